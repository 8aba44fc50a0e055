package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/entra"
	"github.com/newsroom-dev/newsroom/entra/entratest"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/postgres"
)

// TestOpenWith_EntraToken: the store signs in with the managed identity's
// token as the password of a role the server asks a password of, migrates
// and stores a run; without the token it cannot open.
func TestOpenWith_EntraToken(t *testing.T) {
	id := entratest.Start(t, time.Hour)
	url := testsvc.PostgresPasswordRole(t, testsvc.Postgres(t), id.Token(entratest.PostgresResource, 1))
	ctx := context.Background()
	if st, err := postgres.OpenWith(ctx, url, postgres.Options{Auth: entra.ModePassword}); err == nil {
		st.Close()
		t.Fatal("opened without a password: the test server does not check passwords")
	}
	st, err := postgres.OpenWith(ctx, url, postgres.Options{Auth: entra.ModeEntra})
	if err != nil {
		t.Fatalf("OpenWith entra: %v", err)
	}
	defer st.Close()
	run, _, err := st.CreateRun(ctx, &store.Run{Task: "token sign-in", Team: "news"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st.GetRun(ctx, run.ID); err != nil || got.Task != "token sign-in" {
		t.Errorf("GetRun = %+v, %v", got, err)
	}
}
