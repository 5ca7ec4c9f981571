package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the tests if a goroutine outlives them, as every test
// package of the module does.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
