package model

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestWithSpent_SpentSumsTheTreeOnce(t *testing.T) {
	t.Parallel()
	base := errors.New("provider: 503")
	if WithSpent(nil, Usage{EmbeddingTokens: 1}, nil) != nil {
		t.Fatal("WithSpent(nil) must stay nil")
	}
	if err := WithSpent(base, Usage{}, nil); err != base {
		t.Fatal("nothing spent: the error itself")
	}
	req := &Request{Model: "gpt-4o", Meta: Meta{Agent: "Writer"}}
	emb := Usage{EmbeddingTokens: 120, EmbeddingUSD: 0.0000024, CostUSD: 0.0000024}
	err := fmt.Errorf("agent Writer: %w", WithSpent(base, emb, req))
	if !errors.Is(err, base) {
		t.Fatal("errors.Is must see through a SpentError")
	}
	u, agent, dep := Spent(err)
	if u != emb || agent != "Writer" || dep != "gpt-4o" {
		t.Fatalf("Spent = %+v %q %q", u, agent, dep)
	}
	// Wrapped again above (a second layer that also spent): counted once each.
	more := Usage{EmbeddingTokens: 5, EmbeddingUSD: 0.0000001, CostUSD: 0.0000001}
	outer := WithSpent(err, more, &Request{Meta: Meta{Agent: "Editor"}})
	if u, agent, _ := Spent(outer); u != more.Add(emb) || agent != "Editor" {
		t.Fatalf("nested: Spent = %+v %q, want %+v", u, agent, more.Add(emb))
	}
	// Several failures joined (agents answering in parallel): summed.
	other := WithSpent(context.DeadlineExceeded, Usage{EmbeddingTokens: 7}, &Request{Meta: Meta{Agent: "Fact_Checker"}})
	joined := errors.Join(err, other, errors.New("nothing spent"))
	if u, agent, _ := Spent(joined); u.EmbeddingTokens != 127 || agent != "Writer" {
		t.Fatalf("joined: Spent = %+v %q", u, agent)
	}
	if u, _, _ := Spent(base); u != (Usage{}) {
		t.Fatalf("a plain error spent %+v", u)
	}
}
