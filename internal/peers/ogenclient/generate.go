// Package ogenclient is the ogen client of the grid operations described in
// ../openapi.yaml, a peer the SDK is measured against.
package ogenclient

//go:generate go run github.com/ogen-go/ogen/cmd/ogen@v1.24.0 --target . --package ogenclient --clean --config ../ogen.yml ../openapi.yaml
