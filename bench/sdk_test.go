package bench_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"

	"github.com/newsroom-dev/newsroom/bench"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/httpx"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/model/provider"
)

// The official OpenAI Go SDK is a test dependency only: it is out of the
// product binary (it was a third of its build time), and this benchmark
// keeps the comparison with it that `newsroom bench overhead` made before.

// BenchmarkTurn_OpenAISDK replays the same run's requests with openai-go's
// Azure client (parameters built once); one op is the same 4 calls.
func BenchmarkTurn_OpenAISDK(b *testing.B) {
	benchTurns(b, func(h *bench.Harness) func(context.Context) (int, error) {
		endpoint, key, reqs := h.Replay()
		svc := openai.NewChatCompletionService(option.WithHTTPClient(httpx.NewClient(httpx.Options{})), option.WithMaxRetries(0),
			azure.WithEndpoint(endpoint, provider.DefaultAPIVersion), azure.WithAPIKey(key), azure.WithUnsafeAllowHTTP())
		params := make([]openai.ChatCompletionNewParams, len(reqs))
		for i, r := range reqs {
			params[i] = sdkParams(r)
		}
		return func(ctx context.Context) (int, error) {
			for i := range params {
				cc, err := svc.New(ctx, params[i])
				if err != nil {
					return i, err
				}
				if len(cc.Choices) == 0 {
					return i, fmt.Errorf("no choices")
				}
			}
			return len(params), nil
		}
	})
}

func sdkParams(r emulator.RecordedRequest) openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{Model: bench.Deployment}
	for _, m := range r.Messages {
		var u openai.ChatCompletionMessageParamUnion
		switch m.Role {
		case model.RoleSystem:
			s := &openai.ChatCompletionSystemMessageParam{}
			s.Content.OfString = openai.String(m.Content)
			if m.Name != "" {
				s.Name = openai.String(m.Name)
			}
			u.OfSystem = s
		case model.RoleAssistant:
			s := &openai.ChatCompletionAssistantMessageParam{}
			s.Content.OfString = openai.String(m.Content)
			if m.Name != "" {
				s.Name = openai.String(m.Name)
			}
			u.OfAssistant = s
		default:
			s := &openai.ChatCompletionUserMessageParam{}
			s.Content.OfString = openai.String(m.Content)
			if m.Name != "" {
				s.Name = openai.String(m.Name)
			}
			u.OfUser = s
		}
		p.Messages = append(p.Messages, u)
	}
	if r.MaxTokens > 0 {
		p.MaxTokens = openai.Int(int64(r.MaxTokens))
	}
	return p
}
