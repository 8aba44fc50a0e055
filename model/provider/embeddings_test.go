package provider_test

import (
	"errors"
	"math"
	"testing"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/model"
)

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

func TestClient_Embed(t *testing.T) {
	t.Parallel()
	em, p := emutest.Start(t, emulator.Config{}, "text-embedding-3-small", nil)
	texts := []string{
		"The council approved a bike lane on Main Street on Tuesday.",
		"On Tuesday, the council approved a bike lane on Main Street.",
		"A storm cut power to 12,000 homes on Friday night.",
	}
	vs, u, err := p.Embed(t.Context(), texts, 256)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 || len(vs[0]) != 256 {
		t.Fatalf("%d vectors of %d dimensions, want 3 of 256", len(vs), len(vs[0]))
	}
	if u.PromptTokens == 0 || u.Requests != 1 {
		t.Errorf("usage %+v, want prompt tokens and one request", u)
	}
	if s := cosine(vs[0], vs[1]); s < 0.99 {
		t.Errorf("a reordered sentence has similarity %.3f, want ≈1", s)
	}
	if s := cosine(vs[0], vs[2]); s > 0.5 {
		t.Errorf("unrelated sentences have similarity %.3f", s)
	}
	again, _, err := p.Embed(t.Context(), texts[:1], 256)
	if err != nil || cosine(again[0], vs[0]) < 0.999999 {
		t.Errorf("embeddings are not deterministic (%v)", err)
	}
	reqs := em.Requests()
	if last := reqs[len(reqs)-1]; last.Path != "/openai/v1/embeddings" || last.APIVersion != "" || last.Deployment != "text-embedding-3-small" {
		t.Errorf("request went to %s (api-version %q)", last.Path, last.APIVersion)
	}

	em.Force(emulator.ForcedFault{Fault: emulator.Fault503})
	_, _, err = p.Embed(t.Context(), texts[:1], 256)
	var me *model.Error
	if !errors.As(err, &me) || me.StatusCode != 503 {
		t.Errorf("a 503 gave %v, want a *model.Error with the status", err)
	}
}
