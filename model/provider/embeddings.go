package provider

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/newsroom-dev/newsroom/model"
)

type embeddingsBody struct {
	Input          []string `json:"input"`
	Model          string   `json:"model"`
	Dimensions     int      `json:"dimensions,omitempty"`
	EncodingFormat string   `json:"encoding_format"`
}

type embeddingsAnswer struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
	} `json:"usage"`
}

// Embed returns the embeddings of inputs from the client's deployment (or
// model), with dimensions entries each (0: the model's default), and the
// usage (prompt tokens, one request). One attempt, like Complete; failures
// are *model.Error.
func (c *Client) Embed(ctx context.Context, inputs []string, dimensions int) ([][]float32, model.Usage, error) {
	if c.defaultModel == "" {
		return nil, model.Usage{}, fmt.Errorf("%w: no embeddings deployment", ErrConfig)
	}
	body, err := json.Marshal(embeddingsBody{Input: inputs, Model: c.defaultModel, Dimensions: dimensions, EncodingFormat: "float"})
	if err != nil {
		return nil, model.Usage{}, fmt.Errorf("provider: encoding the embeddings request: %w", err)
	}
	raw, err := c.send(ctx, embeddingsRoute, c.defaultModel, body, "application/json")
	if err != nil {
		return nil, model.Usage{}, err
	}
	defer func() { _ = raw.Body.Close() }()
	var ans embeddingsAnswer
	if err := json.NewDecoder(raw.Body).Decode(&ans); err != nil {
		if ctx.Err() != nil {
			return nil, model.Usage{}, c.mapError(ctx, err, raw)
		}
		return nil, model.Usage{}, &model.Error{Message: c.redact("provider: decoding the embeddings: " + err.Error()), RequestID: requestID(raw), Err: err}
	}
	if len(ans.Data) != len(inputs) {
		return nil, model.Usage{}, &model.Error{Message: fmt.Sprintf("provider: %d embeddings for %d inputs", len(ans.Data), len(inputs)), RequestID: requestID(raw)}
	}
	out := make([][]float32, len(inputs))
	for _, d := range ans.Data {
		if d.Index < 0 || d.Index >= len(out) {
			return nil, model.Usage{}, &model.Error{Message: "provider: embedding index out of range", RequestID: requestID(raw)}
		}
		out[d.Index] = d.Embedding
	}
	return out, model.Usage{PromptTokens: ans.Usage.PromptTokens, Requests: 1}, nil
}
