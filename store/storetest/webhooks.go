package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/store"
)

// webhookTests are the conformance tests of store.Webhooks; Run runs them.
var webhookTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"webhooks are stored, replaced, listed and found", testWebhooks},
	{"an article's outbox is written with it, or not at all", testOutbox},
	{"ClaimDeliveries leases each due delivery to one owner until saved", testClaimDeliveries},
}

func testWebhooks(t *testing.T, s store.Store) {
	ctx := context.Background()
	w := &store.Webhook{ID: "wh_1", URL: "https://cms.example/hook", Events: []string{store.EventArticlePublished}, Secret: "s3cret"}
	if err := s.PutWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	w2 := *w
	w2.URL, w2.Events = "https://cms.example/hook2", []string{store.EventArticlePublished, store.EventArticleRetracted}
	if err := s.PutWebhook(ctx, &w2); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetWebhook(ctx, "wh_1")
	if err != nil || got.URL != w2.URL || len(got.Events) != 2 || got.Secret != "s3cret" {
		t.Fatalf("GetWebhook = %+v, %v", got, err)
	}
	if ws, err := s.ListWebhooks(ctx); err != nil || len(ws) != 1 {
		t.Fatalf("ListWebhooks = %d, %v", len(ws), err)
	}
	if _, err := s.GetWebhook(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown webhook: %v", err)
	}
	if err := s.Redeliver(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Redeliver unknown: %v", err)
	}
}

func delivery(id, article string) *store.Delivery {
	return &store.Delivery{ID: id, WebhookID: "wh_1", Event: store.EventArticlePublished, ArticleID: article,
		Payload: []byte(`{"event":"article.published","article":{"id":"` + article + `"}}`)}
}

func testOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	run := mustCreate(t, s, &store.Run{Task: "t", Team: "roundrobin"})
	c := mustClaim(t, s, run.ID)
	art := sampleArticle("out-"+run.ID, run.ID, "roundrobin", base)
	art.Outbox = []*store.Delivery{delivery("dl_1", art.ID)}
	done := *run
	done.Status, done.Publish = store.StatusSucceeded, art
	if _, err := s.FinishRun(ctx, c, &done, finalEvent("verdict", "")); err != nil {
		t.Fatal(err)
	}
	ds, err := s.Deliveries(ctx, "wh_1")
	if err != nil || len(ds) != 1 || ds[0].ID != "dl_1" || ds[0].Status != store.DeliveryPending || ds[0].ArticleID != art.ID || len(ds[0].Payload) == 0 {
		t.Fatalf("Deliveries = %+v, %v", ds, err)
	}
	// A version that cannot be written (stale) writes no delivery.
	stale := *art
	stale.Outbox = []*store.Delivery{delivery("dl_2", art.ID)}
	if err := s.PutArticle(ctx, &stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale PutArticle: %v", err)
	}
	v2 := *art
	v2.Version, v2.Outbox = 2, []*store.Delivery{delivery("dl_3", art.ID)}
	if err := s.PutArticle(ctx, &v2); err != nil {
		t.Fatal(err)
	}
	ds, _ = s.Deliveries(ctx, "wh_1")
	if len(ds) != 2 {
		t.Fatalf("%d deliveries, want 2 (the stale version's not written)", len(ds))
	}
}

func testClaimDeliveries(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := sampleArticle("claims", "run-c", "roundrobin", base)
	for i := range 20 {
		a.Outbox = append(a.Outbox, delivery(fmt.Sprintf("dc_%02d", i), a.ID))
	}
	if err := s.PutArticle(ctx, a); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]string{}
	var wg sync.WaitGroup
	for o := range 4 {
		owner := fmt.Sprintf("inst-%d", o)
		wg.Go(func() {
			for range 5 {
				ds, err := s.ClaimDeliveries(ctx, owner, time.Minute, 3)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, d := range ds {
					if prev, dup := got[d.ID]; dup {
						t.Errorf("delivery %s claimed by %s and %s", d.ID, prev, owner)
					}
					got[d.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(got) != 20 {
		t.Fatalf("%d deliveries claimed, want 20", len(got))
	}
	if more, err := s.ClaimDeliveries(ctx, "late", time.Minute, 10); err != nil || len(more) != 0 {
		t.Fatalf("leased deliveries claimed again: %d, %v", len(more), err)
	}
	d := delivery("dc_00", a.ID)
	d.Status, d.Attempts, d.NextAt = store.DeliveryPending, []store.Attempt{{At: base, Status: 500}}, time.Now().Add(-time.Second)
	if err := s.SaveDelivery(ctx, "not-the-owner", d); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("SaveDelivery by another owner: %v", err)
	}
	if err := s.SaveDelivery(ctx, got["dc_00"], d); err != nil {
		t.Fatal(err)
	}
	again, err := s.ClaimDeliveries(ctx, "next", time.Minute, 10)
	if err != nil || len(again) != 1 || again[0].ID != "dc_00" || len(again[0].Attempts) != 1 || again[0].Attempts[0].Status != 500 {
		t.Fatalf("the saved, due delivery: %+v, %v", again, err)
	}
	again[0].Status = store.DeliveryDelivered
	if err := s.SaveDelivery(ctx, "next", again[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Redeliver(ctx, "dc_00"); err != nil {
		t.Fatal(err)
	}
	if re, err := s.ClaimDeliveries(ctx, "re", time.Minute, 10); err != nil || len(re) != 1 || re[0].ID != "dc_00" {
		t.Fatalf("a redelivered delivery: %+v, %v", re, err)
	}
}
