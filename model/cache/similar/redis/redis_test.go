package redis_test

import (
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/internal/emutest/similartest"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	cacheredis "github.com/newsroom-dev/newsroom/model/cache/redis"
	"github.com/newsroom-dev/newsroom/model/cache/similar/redis"
)

func TestMain(m *testing.M) { testsvc.Main(m) }

func TestIndex_guard(t *testing.T) {
	rdb := goredis.NewClient(&goredis.Options{Addr: testsvc.Redis(t)})
	defer rdb.Close()
	prefix := fmt.Sprintf("test:%d:", time.Now().UnixNano())
	store, err := cacheredis.New(cacheredis.Config{Client: rdb, Prefix: prefix + "cache:"})
	if err != nil {
		t.Fatal(err)
	}
	similartest.Guard(t, store, redis.New(rdb, prefix+"similar:", 0))
}
