package bench

import (
	"math"
	"testing"

	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/cost"
)

func TestSimilarity_paraphrasesHitChangedFactsNever(t *testing.T) {
	t.Parallel()
	r, err := Similarity(t.Context(), SimilarityConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if r.ChangedFactHits != 0 {
		t.Errorf("%d hits on tasks with a changed fact, want 0", r.ChangedFactHits)
	}
	if r.ParaphraseHits == 0 || r.SavedTokens == 0 || r.SavedUSD <= 0 {
		t.Errorf("no paraphrase hit (%d calls), %d tokens ($%g) saved", r.ParaphraseCalls, r.SavedTokens, r.SavedUSD)
	}
	if r.EmbeddingTokens == 0 || r.EmbeddingCostUSD <= 0 {
		t.Errorf("embedding cost not counted: %d tokens, $%g", r.EmbeddingTokens, r.EmbeddingCostUSD)
	}
	// The cost comes from the calls' usage, priced by the stack's table.
	want, ok := cost.Default().Cost(embeddingsDeployment, model.Usage{PromptTokens: int(r.EmbeddingTokens)})
	if !ok || math.Abs(r.EmbeddingCostUSD-want) > 2e-6 {
		t.Errorf("embedding cost $%g for %d tokens, the price table says $%g", r.EmbeddingCostUSD, r.EmbeddingTokens, want)
	}
	if r.RunCostUSD < r.EmbeddingCostUSD || math.Abs(r.NetSavedUSD-(r.SavedUSD-r.EmbeddingCostUSD)) > 2e-6 {
		t.Errorf("run cost $%g, net saved $%g (saved $%g, embeddings $%g)", r.RunCostUSD, r.NetSavedUSD, r.SavedUSD, r.EmbeddingCostUSD)
	}
}
