// Package oapigenclient is the oapi-codegen client of the grid operations
// described in ../openapi.yaml, a peer the SDK is measured against.
package oapigenclient

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config ../oapi-codegen.yml ../openapi.yaml
