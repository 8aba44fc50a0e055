package similar_test

import (
	"slices"
	"testing"

	"github.com/newsroom-dev/newsroom/internal/emutest/similartest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cache/memory"
	"github.com/newsroom-dev/newsroom/model/cache/similar"
)

func TestFacts(t *testing.T) {
	t.Parallel()
	got := similar.Facts(`Mayor Jane Smith said on Tuesday, 12 May 2026, that the "Green Line" costs $2.1 million. The plan starts in March.`)
	for _, want := range []string{"#2.1", "#12", "#2026", "nJane", "nSmith", "nMayor", "nTuesday", "nMay", "nMarch", `q"green line"`} {
		if !slices.Contains(got, want) {
			t.Errorf("facts %v lack %q", got, want)
		}
	}
	if slices.Contains(got, "nThe") {
		t.Errorf("facts %v hold the sentence opener The", got)
	}
	a := &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: similartest.Task}}}
	b := &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: similartest.Paraphrase}}}
	c := &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: similartest.Changed}}}
	if similar.Fingerprint(a) != similar.Fingerprint(b) {
		t.Errorf("a paraphrase changed the fingerprint: %v vs %v", similar.Facts(similartest.Task), similar.Facts(similartest.Paraphrase))
	}
	if similar.Fingerprint(a) == similar.Fingerprint(c) {
		t.Error("a changed figure kept the fingerprint")
	}
}

func TestClient_memory(t *testing.T) {
	t.Parallel()
	similartest.Guard(t, memory.New(memory.Config{}), similar.NewMemoryIndex(0))
}
