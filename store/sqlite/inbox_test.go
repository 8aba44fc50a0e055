package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/storetest"
)

func TestStore_InboxConformance(t *testing.T) {
	storetest.RunInbox(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "newsroom.db"))
	})
}

func TestStore_AdmitFromTwoProcessesOnOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "newsroom.db")
	storetest.AdmitFromTwoStores(t, func(t *testing.T) store.Store { return open(t, path) }, 50)
}
