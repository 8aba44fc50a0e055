package bench

import "testing"

func TestSimilarity_paraphrasesHitChangedFactsNever(t *testing.T) {
	t.Parallel()
	r, err := Similarity(t.Context(), SimilarityConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if r.ChangedFactHits != 0 {
		t.Errorf("%d hits on tasks with a changed fact, want 0", r.ChangedFactHits)
	}
	if r.ParaphraseHits == 0 || r.SavedTokens == 0 {
		t.Errorf("no paraphrase hit (%d calls), %d tokens saved", r.ParaphraseCalls, r.SavedTokens)
	}
	if r.EmbeddingTokens == 0 || r.EmbeddingCostUSD <= 0 {
		t.Errorf("embedding cost not counted: %d tokens, $%g", r.EmbeddingTokens, r.EmbeddingCostUSD)
	}
}
