package cost

// The built-in prices, USD per 1M tokens, standard (not batch, not priority)
// tier, from OpenAI's API pricing page (https://developers.openai.com/api/docs/pricing
// and https://openai.com/api/pricing/), as collected on 2026-11-25 from
// secondary sources that quote it: the GitHub Docs Copilot price table
// (github/docs data/tables/copilot/models-and-pricing.yml: GPT-4.1 and GPT-5
// mini), the adk-model 0.6.0 and openai-cost 0.1.0 crates' price tables
// (March and Q2 2026) and chatgptpricing-akr.pages.dev/api-pricing (GPT-4o,
// GPT-5). Cached input is the published discount per family: half price for
// GPT-4o, a quarter for GPT-4.1, a tenth for GPT-5. Azure OpenAI's global
// standard deployments charge the same list prices. Check the page before
// relying on these for billing, and override them with LoadPrices.
func defaultPrices() map[string]Price {
	return map[string]Price{
		"gpt-4o":      {Input: 2.50, CachedInput: 1.25, Output: 10.00},
		"gpt-4o-mini": {Input: 0.15, CachedInput: 0.075, Output: 0.60},

		"gpt-4.1":      {Input: 2.00, CachedInput: 0.50, Output: 8.00},
		"gpt-4.1-mini": {Input: 0.40, CachedInput: 0.10, Output: 1.60},
		"gpt-4.1-nano": {Input: 0.10, CachedInput: 0.025, Output: 0.40},

		"gpt-5":      {Input: 1.25, CachedInput: 0.125, Output: 10.00},
		"gpt-5-mini": {Input: 0.25, CachedInput: 0.025, Output: 2.00},
		"gpt-5-nano": {Input: 0.05, CachedInput: 0.005, Output: 0.40},
		// GPT-5 chat and the point versions, and the o-series reasoning
		// models (same sources; reasoning tokens are output tokens).
		"gpt-5-chat":   {Input: 1.25, CachedInput: 0.125, Output: 10.00},
		"gpt-5.1":      {Input: 1.25, CachedInput: 0.125, Output: 10.00},
		"gpt-5.1-chat": {Input: 1.25, CachedInput: 0.125, Output: 10.00},
		"gpt-5.2":      {Input: 1.75, CachedInput: 0.175, Output: 14.00},
		"o3":           {Input: 2.00, CachedInput: 0.50, Output: 8.00},
		"o4-mini":      {Input: 1.10, CachedInput: 0.275, Output: 4.40},

		// Embeddings (the similarity cache): input tokens only.
		"text-embedding-3-small": {Input: 0.02},
		"text-embedding-3-large": {Input: 0.13},
		"text-embedding-ada-002": {Input: 0.10},
	}
}
