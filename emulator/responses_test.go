package emulator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// The openai-go SDK's Responses client is the reference client of the
// emulator's Responses API.

const responsesTask = "Write a short news article from https://fair.example/news about the town fair."

func responsesSDK(r *Running, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{option.WithBaseURL(r.URL + "/openai/v1/"),
		option.WithHTTPClient(r.Client()), option.WithMaxRetries(0)}, opts...)...)
}

func reporterParams() responses.ResponseNewParams {
	return responses.ResponseNewParams{
		Model: "newsroom-gpt5",
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage("You are News_Reporter, a reporter in a newsroom.", responses.EasyInputMessageRoleSystem),
			responses.ResponseInputItemParamOfMessage(responsesTask, responses.EasyInputMessageRoleUser),
		}},
		Store:   openai.Bool(false),
		Include: []responses.ResponseIncludable{responses.ResponseIncludableReasoningEncryptedContent},
		Tools: []responses.ToolUnionParam{{OfFunction: &responses.FunctionToolParam{Name: ToolFetchURL, Strict: openai.Bool(true),
			Parameters: map[string]any{"type": "object", "properties": map[string]any{"url": map[string]any{"type": "string"}},
				"required": []string{"url"}, "additionalProperties": false}}}},
	}
}

// toolRound is the input of the next round: the items given, the
// reasoning and function call items of out (the reasoning only with
// reasoning), and a result for each call.
func toolRound(p responses.ResponseNewParams, out *responses.Response, reasoning bool) responses.ResponseNewParams {
	items := append(responses.ResponseInputParam{}, p.Input.OfInputItemList...)
	for _, it := range out.Output {
		switch it.Type {
		case "reasoning":
			if reasoning {
				rp := it.AsReasoning().ToParam()
				items = append(items, responses.ResponseInputItemUnionParam{OfReasoning: &rp})
			}
		case "function_call":
			call := it.AsFunctionCall()
			fc := call.ToParam()
			out := responses.ResponseInputItemFunctionCallOutputParam{CallID: openai.String(call.CallID),
				Output: responses.ResponseInputItemFunctionCallOutputOutputUnionParam{OfString: openai.String(
					`{"source":1,"title":"Fair","text":"The town fair opened on Saturday with 40 stalls and a parade."}`)}}
			items = append(items, responses.ResponseInputItemUnionParam{OfFunctionCall: &fc},
				responses.ResponseInputItemUnionParam{OfFunctionCallOutput: &out})
		}
	}
	p.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: items}
	return p
}

func TestResponsesSDK_ToolLoopCarriesReasoning(t *testing.T) {
	r := mustStart(t, Config{APIKey: testKey, ModelName: "gpt-5-mini"}, Options{TLS: true})
	client := responsesSDK(r, option.WithHeader("api-key", testKey))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	params := reporterParams()
	params.Reasoning.Effort = "low"

	first, err := client.Responses.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, it := range first.Output {
		kinds = append(kinds, it.Type)
	}
	if fmt.Sprint(kinds) != "[reasoning function_call]" || first.Status != "completed" || first.Model != "gpt-5-mini" {
		t.Fatalf("first answer: %s %s %v", first.Status, first.Model, kinds)
	}
	rs, fc := first.Output[0].AsReasoning(), first.Output[1].AsFunctionCall()
	if rs.EncryptedContent == "" || fc.Name != ToolFetchURL || !strings.Contains(fc.Arguments, "https://fair.example/news") {
		t.Errorf("reasoning %+v, call %+v", rs, fc)
	}
	if u := first.Usage; u.OutputTokensDetails.ReasoningTokens == 0 || u.OutputTokens <= u.OutputTokensDetails.ReasoningTokens ||
		u.TotalTokens != u.InputTokens+u.OutputTokens {
		t.Errorf("usage %+v", u)
	}
	rec := r.Requests()[0]
	if rec.Path != ResponsesPath || rec.APIVersion != "" || rec.Auth != AuthAPIKey || rec.Deployment != "newsroom-gpt5" {
		t.Errorf("recorded %+v", rec)
	}

	t.Run("the next round, streamed, with the reasoning handed back", func(t *testing.T) {
		stream := client.Responses.NewStreaming(ctx, toolRound(params, first, true))
		var text strings.Builder
		var done *responses.Response
		var events []string
		for stream.Next() {
			ev := stream.Current()
			if len(events) == 0 || events[len(events)-1] != ev.Type {
				events = append(events, ev.Type)
			}
			switch ev.Type {
			case "response.output_text.delta":
				text.WriteString(ev.Delta)
			case "response.completed":
				resp := ev.AsResponseCompleted().Response
				done = &resp
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if done == nil || done.OutputText() != text.String() || !strings.Contains(text.String(), "40 stalls") {
			t.Fatalf("streamed %q, completed %+v", text.String(), done)
		}
		if done.Usage.OutputTokensDetails.ReasoningTokens == 0 || done.Usage.InputTokens <= first.Usage.InputTokens {
			t.Errorf("usage %+v", done.Usage)
		}
		want := "[response.created response.in_progress response.output_item.added response.output_item.done " +
			"response.output_item.added response.content_part.added response.output_text.delta response.output_text.done " +
			"response.content_part.done response.output_item.done response.completed]"
		if fmt.Sprint(events) != want {
			t.Errorf("events %v", events)
		}
	})
	t.Run("the tool call, streamed", func(t *testing.T) {
		stream := client.Responses.NewStreaming(ctx, params)
		var args strings.Builder
		var done responses.ResponseFunctionToolCall
		var events []string
		for stream.Next() {
			ev := stream.Current()
			if len(events) == 0 || events[len(events)-1] != ev.Type {
				events = append(events, ev.Type)
			}
			switch ev.Type {
			case "response.function_call_arguments.delta":
				args.WriteString(ev.Delta)
			case "response.output_item.done":
				if it := ev.AsResponseOutputItemDone().Item; it.Type == "function_call" {
					done = it.AsFunctionCall()
				}
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if args.String() != fc.Arguments || done.Arguments != fc.Arguments || done.CallID == "" || done.Name != ToolFetchURL {
			t.Errorf("streamed arguments %q, done %+v; want %q", args.String(), done, fc.Arguments)
		}
		want := "[response.created response.in_progress response.output_item.added response.output_item.done " +
			"response.output_item.added response.function_call_arguments.delta response.function_call_arguments.done " +
			"response.output_item.done response.completed]"
		if fmt.Sprint(events) != want {
			t.Errorf("events %v", events)
		}
	})
	t.Run("a round without the reasoning is refused", func(t *testing.T) {
		_, err := client.Responses.New(ctx, toolRound(params, first, false))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "input" ||
			!strings.Contains(apiErr.Message, "of type 'function_call' was provided without its required 'reasoning' item: '"+rs.ID+"'") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("a reasoning item without its encrypted content is not found", func(t *testing.T) {
		p := toolRound(params, first, true)
		p.Input.OfInputItemList[2] = responses.ResponseInputItemParamOfReasoning(rs.ID, []responses.ResponseReasoningItemSummaryParam{})
		_, err := client.Responses.New(ctx, p)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || !strings.Contains(apiErr.Message, "Items are not persisted when `store` is set to false") {
			t.Errorf("error = %v", err)
		}
	})
}

func TestResponsesSDK_RefusedParameters(t *testing.T) {
	r := mustStart(t, Config{APIKey: testKey, ModelName: "gpt-5-mini"}, Options{TLS: true})
	client := responsesSDK(r, option.WithAPIKey(testKey))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name        string
		edit        func(*responses.ResponseNewParams) []option.RequestOption
		param, code string
	}{
		{"max_tokens is chat's", func(*responses.ResponseNewParams) []option.RequestOption {
			return []option.RequestOption{option.WithJSONSet("max_tokens", 100)}
		}, "max_tokens", "unknown_parameter"},
		{"temperature on a reasoning model", func(p *responses.ResponseNewParams) []option.RequestOption {
			p.Temperature = openai.Float(0.3)
			return nil
		}, "temperature", "unsupported_parameter"},
		{"an effort the model does not have", func(p *responses.ResponseNewParams) []option.RequestOption {
			p.Reasoning.Effort = "extreme"
			return nil
		}, "reasoning.effort", "unsupported_value"},
		{"a budget below the minimum", func(p *responses.ResponseNewParams) []option.RequestOption {
			p.MaxOutputTokens = openai.Int(8)
			return nil
		}, "max_output_tokens", "integer_below_min_value"},
		{"a strict tool with an open object", func(p *responses.ResponseNewParams) []option.RequestOption {
			delete(p.Tools[0].OfFunction.Parameters, "additionalProperties")
			return nil
		}, "tools[0].parameters", "invalid_function_parameters"},
		{"a strict format with a property not required", func(p *responses.ResponseNewParams) []option.RequestOption {
			p.Text.Format = responses.ResponseFormatTextConfigUnionParam{OfJSONSchema: &responses.ResponseFormatTextJSONSchemaConfigParam{
				Name: "h", Strict: openai.Bool(true), Schema: map[string]any{"type": "object", "additionalProperties": false,
					"properties": map[string]any{"headline": map[string]any{"type": "string"}}}}}
			return nil
		}, "text.format.schema", "invalid_json_schema"},
		{"tool_choice required without tools", func(p *responses.ResponseNewParams) []option.RequestOption {
			p.Tools = nil
			p.ToolChoice = responses.ResponseNewParamsToolChoiceUnion{OfToolChoiceMode: openai.Opt(responses.ToolChoiceOptionsRequired)}
			return nil
		}, "tool_choice", ""},
		{"a stored response to continue", func(p *responses.ResponseNewParams) []option.RequestOption {
			p.PreviousResponseID = openai.String("resp_abc")
			return nil
		}, "previous_response_id", "previous_response_not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := reporterParams()
			opts := tc.edit(&p)
			_, err := client.Responses.New(ctx, p, opts...)
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != tc.param || apiErr.Code != tc.code {
				t.Errorf("error = %v, want 400 %s %s", err, tc.param, tc.code)
			}
		})
	}
	t.Run("reasoning effort on a model without reasoning", func(t *testing.T) {
		r4 := mustStart(t, Config{APIKey: testKey, ModelName: "gpt-4o-2024-11-20"}, Options{TLS: true})
		p := reporterParams()
		p.Reasoning.Effort = "low"
		c4 := responsesSDK(r4, option.WithAPIKey(testKey))
		_, err := c4.Responses.New(ctx, p)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "reasoning.effort" || apiErr.Code != "unsupported_parameter" {
			t.Errorf("error = %v", err)
		}
	})
}

// staticToken is an Entra ID credential with a fixed token.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestResponsesSDK_EntraBearerAndRetryAfter(t *testing.T) {
	const token = "entra-token-for-responses"
	r := mustStart(t, Config{APIKey: testKey, ModelName: "gpt-5-mini", TokenValidator: func(s string) bool { return s == token }}, Options{TLS: true})
	attempts := 0
	// The v1 surface takes the Entra ID token as a bearer (this SDK's
	// azure.WithTokenCredential needs its dated-version endpoint).
	var cred azcore.TokenCredential = staticToken(token)
	client := responsesSDK(r, option.WithMaxRetries(2),
		option.WithMiddleware(func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			attempts++
			tok, err := cred.GetToken(req.Context(), policy.TokenRequestOptions{Scopes: []string{"https://cognitiveservices.azure.com/.default"}})
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tok.Token)
			resp, err := next(req)
			r.Force(ForcedFault{Fault: FaultNone}) // only the first attempt is throttled
			return resp, err
		}))
	r.Force(ForcedFault{Fault: Fault429, RetryAfterMS: 20})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := reporterParams()
	p.Tools = nil
	resp, err := client.Responses.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(resp.OutputText(), "town fair") || attempts != 2 {
		t.Errorf("answer %q after %d attempts", resp.OutputText(), attempts)
	}
	reqs := r.Requests()
	if len(reqs) != 2 || reqs[0].Status != http.StatusTooManyRequests || reqs[1].Status != http.StatusOK ||
		reqs[0].Auth != AuthBearer || reqs[1].Auth != AuthBearer {
		t.Errorf("recorded %+v", reqs)
	}
}

// TestResponses_QuotaCountsReasoning: the Responses API shares the
// deployment's quota with chat completions; the tokens a call uses
// (reasoning included) count against TPM, and a call past it gets 429 with
// Retry-After.
func TestResponses_QuotaCountsReasoning(t *testing.T) {
	clock := newFakeClock()
	r := mustStart(t, Config{APIKey: testKey, ModelName: "gpt-5-mini", Quota: Quota{TokensPerMinute: 660}, Now: clock.Now}, Options{})
	key := map[string]string{"api-key": testKey}
	body := map[string]any{"model": "dep", "input": "You are News_Reporter. " + testTask, "reasoning": map[string]any{"effort": "high"}}
	resp, data := do(t, r, reqOpts{path: ResponsesPath, headers: key, body: body})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	first := decode[struct {
		Usage struct {
			TotalTokens         int `json:"total_tokens"`
			OutputTokensDetails struct {
				ReasoningTokens int `json:"reasoning_tokens"`
			} `json:"output_tokens_details"`
		} `json:"usage"`
	}](t, data)
	// The second call's admission (its prompt) fits the quota only if the
	// first call's reasoning was not counted.
	// High effort reasons at least 480 tokens (emulator/reasoning.go).
	if first.Usage.OutputTokensDetails.ReasoningTokens < 480 || first.Usage.TotalTokens > 660 || first.Usage.TotalTokens-first.Usage.OutputTokensDetails.ReasoningTokens+64 > 660 {
		t.Fatalf("usage %+v", first.Usage)
	}
	left, _ := strconv.Atoi(resp.Header.Get("x-ratelimit-remaining-tokens"))
	resp, data = do(t, r, reqOpts{path: ResponsesPath, headers: key, body: body})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second call: status %d (%d tokens were left): %s", resp.StatusCode, left, data)
	}
	clock.Advance(time.Minute)
	if resp, data = do(t, r, reqOpts{path: ResponsesPath, headers: key, body: body}); resp.StatusCode != 200 {
		t.Errorf("after a minute: status %d: %s", resp.StatusCode, data)
	}
}

func TestResponses_ContentParts(t *testing.T) {
	r := mustStart(t, Config{APIKey: testKey, ModelName: "gpt-5-mini"}, Options{})
	body := map[string]any{"model": "dep", "input": []any{
		map[string]any{"type": "message", "role": "developer", "content": []any{map[string]any{"type": "input_text", "text": "You are News_Reporter."}}},
		map[string]any{"type": "message", "role": "user", "content": []any{map[string]any{"type": "input_text", "text": testTask}}},
	}}
	resp, data := do(t, r, reqOpts{path: ResponsesPath, headers: map[string]string{"api-key": testKey}, body: body})
	if resp.StatusCode != 200 || !strings.Contains(string(data), "80,000 books") {
		t.Errorf("status %d: %s", resp.StatusCode, data)
	}
	if msgs := r.Requests()[0].Messages; len(msgs) != 2 || msgs[0].Role != "system" || msgs[1].Content != testTask {
		t.Errorf("messages %+v", msgs)
	}
}
