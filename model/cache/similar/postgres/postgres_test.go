package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/newsroom-dev/newsroom/internal/emutest/similartest"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	cachepostgres "github.com/newsroom-dev/newsroom/model/cache/postgres"
	"github.com/newsroom-dev/newsroom/model/cache/similar/postgres"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

func TestIndex_guard(t *testing.T) {
	pool, err := pgxpool.New(t.Context(), testsvc.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	idx, err := postgres.New(t.Context(), pool, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The answers in the PostgreSQL response cache, the vectors beside them.
	store, err := cachepostgres.New(t.Context(), cachepostgres.Config{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	similartest.Guard(t, store, idx)
}
