package postgres_test

import (
	"testing"

	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/storetest"
)

func TestStore_InboxConformance(t *testing.T) {
	storetest.RunInbox(t, func(t *testing.T) store.Store { return open(t, testsvc.Postgres(t)) })
}

func TestStore_AdmitFromTwoInstancesOnOneDatabase(t *testing.T) {
	dsn := testsvc.Postgres(t)
	storetest.AdmitFromTwoStores(t, func(t *testing.T) store.Store { return open(t, dsn) }, 50)
}
