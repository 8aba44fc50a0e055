package server

import (
	"testing"

	"github.com/newsroom-dev/newsroom/internal/testsvc"
)

// TestMain stops the PostgreSQL server the tests start.
func TestMain(m *testing.M) { testsvc.Main(m) }
