package modelstack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/newsroom-dev/newsroom/config"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/entra"
	"github.com/newsroom-dev/newsroom/entra/entratest"
	"github.com/newsroom-dev/newsroom/internal/testsvc"
	"github.com/newsroom-dev/newsroom/modelstack"
)

// TestBuild_RedisCacheSignsInWithEntra: with NEWSROOM_REDIS_AUTH=entra the
// stack's Redis (here the response cache) signs in as the managed
// identity: user name its object id, password its token, which is the only
// password the ACL user has.
func TestBuild_RedisCacheSignsInWithEntra(t *testing.T) {
	id := entratest.Start(t, time.Hour)
	addr := testsvc.Redis(t)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	if err := admin.Do(ctx, "ACL", "SETUSER", id.OID, "on", ">"+id.Token(entratest.RedisResource, 1), "~*", "&*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	defer admin.Do(context.Background(), "ACL", "DELUSER", id.OID)

	em := startEmulator(t, emulator.Config{APIKey: "right"})
	cfg := azure(em, "right")
	cfg.Cache, cfg.RedisURL, cfg.RedisAuth = config.CacheRedis, config.Secret("redis://"+addr+"/0"), entra.ModeEntra
	s := mustBuild(t, modelstack.Options{Config: cfg})
	c, err := s.Client("")
	if err != nil {
		t.Fatal(err)
	}
	req := request()
	req.Messages[0].Content += " " + id.OID // new to the shared cache
	first, err := c.Complete(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Complete(ctx, req)
	if err != nil || first.Cached || !second.Cached {
		t.Fatalf("cached %v then %v (%v): want a miss then a hit from Redis", first.Cached, second.Cached, err)
	}
	clients, err := admin.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(clients, "user="+id.OID) {
		t.Errorf("no Redis connection of the identity's user %s:\n%s", id.OID, clients)
	}
	if asked := id.Asked(); len(asked) == 0 || asked[0] != entratest.RedisResource {
		t.Errorf("token requests %v", asked)
	}
}
