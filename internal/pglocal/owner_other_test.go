//go:build !unix

package pglocal

import (
	"os"
	"testing"
)

func requireOwnedByCaller(*testing.T, os.FileInfo) {}
