package emulator

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/tokenizer"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"
)

func TestStart_TLS(t *testing.T) {
	r := mustStart(t, Config{}, Options{TLS: true})
	if !strings.HasPrefix(r.URL, "https://127.0.0.1:") {
		t.Fatalf("URL = %q", r.URL)
	}
	cert := r.Certificate()
	if cert == nil || cert.VerifyHostname("127.0.0.1") != nil || cert.VerifyHostname("localhost") != nil {
		t.Fatal("certificate does not cover 127.0.0.1 and localhost")
	}
	block, _ := pem.Decode(r.CertPEM())
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatal("CertPEM is not a PEM certificate")
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: r.CertPool(), DNSName: "localhost"}); err != nil {
		t.Errorf("certificate does not verify against CertPool: %v", err)
	}

	t.Run("a client trusting the pool connects", func(t *testing.T) {
		resp, data := do(t, r, reqOpts{path: azurePath, body: chatBody(simpleMsgs(), nil)})
		if resp.StatusCode != 200 || resp.TLS == nil {
			t.Errorf("status %d tls %v: %s", resp.StatusCode, resp.TLS != nil, data)
		}
	})
	t.Run("a client with the system roots refuses the certificate", func(t *testing.T) {
		resp, err := http.Post(r.URL+azurePath, "application/json", strings.NewReader(`{}`))
		if err == nil {
			resp.Body.Close()
			t.Fatal("request succeeded without trusting the certificate")
		}
		var uerr x509.UnknownAuthorityError
		if !errors.As(err, &uerr) {
			t.Errorf("error = %v, want an unknown authority error", err)
		}
	})
}

func TestOpenAISDK_azure(t *testing.T) {
	r := mustStart(t, Config{APIKey: testKey}, Options{TLS: true})
	client := openai.NewClient(
		azure.WithEndpoint(r.URL, testVersion),
		azure.WithAPIKey(testKey),
		option.WithHTTPClient(r.Client()),
		option.WithMaxRetries(0),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	params := openai.ChatCompletionNewParams{
		Model: "newsroom-gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are News_Reporter, a reporter in a newsroom."),
			openai.UserMessage(testTask),
		},
	}
	tk := tokenizer.MustForModel(DefaultModelName)

	resp, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	text := resp.Choices[0].Message.Content
	if !strings.Contains(text, "80,000 books") || resp.Choices[0].FinishReason != "stop" || resp.Model != DefaultModelName {
		t.Errorf("response %+v", resp)
	}
	// GPT-5: the completion holds the hidden reasoning, which the SDK reads
	// from completion_tokens_details.
	reasoning := resp.Usage.CompletionTokensDetails.ReasoningTokens
	if reasoning <= 0 || resp.Usage.CompletionTokens != int64(tk.Count(text))+reasoning || resp.Usage.TotalTokens != resp.Usage.PromptTokens+resp.Usage.CompletionTokens {
		t.Errorf("usage %+v", resp.Usage)
	}
	rec := r.Requests()[0]
	if rec.Deployment != "newsroom-gpt-4o" || rec.APIVersion != testVersion || rec.Auth != AuthAPIKey || rec.Path != "/openai/deployments/newsroom-gpt-4o/chat/completions" {
		t.Errorf("recorded %+v", rec)
	}

	t.Run("streaming with usage", func(t *testing.T) {
		p := params
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := client.Chat.Completions.NewStreaming(ctx, p)
		acc := openai.ChatCompletionAccumulator{}
		var b strings.Builder
		for stream.Next() {
			chunk := stream.Current()
			acc.AddChunk(chunk)
			if len(chunk.Choices) > 0 {
				b.WriteString(chunk.Choices[0].Delta.Content)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if b.String() != text {
			t.Errorf("streamed %q, want %q", b.String(), text)
		}
		if acc.Usage.PromptTokens != resp.Usage.PromptTokens || acc.Usage.CompletionTokens != resp.Usage.CompletionTokens {
			t.Errorf("stream usage %+v, want %+v", acc.Usage, resp.Usage)
		}
		if !r.Requests()[1].Stream || !r.Requests()[1].IncludeUsage {
			t.Errorf("recorded %+v", r.Requests()[1])
		}
	})

	t.Run("a wrong key is a 401 error", func(t *testing.T) {
		bad := openai.NewClient(azure.WithEndpoint(r.URL, testVersion), azure.WithAPIKey("wrong"),
			option.WithHTTPClient(r.Client()), option.WithMaxRetries(0))
		_, err := bad.Chat.Completions.New(ctx, params)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Code != "401" {
			t.Errorf("error = %v", err)
		}
	})
}

func TestOpenAISDK_openAIStyle(t *testing.T) {
	r := mustStart(t, Config{APIKey: testKey}, Options{})
	client := openai.NewClient(option.WithBaseURL(r.URL+"/v1/"), option.WithAPIKey(testKey), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello there")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(resp.Choices[0].Message.Content, "newsroom emulator") {
		t.Errorf("content %q", resp.Choices[0].Message.Content)
	}
	if rec := r.Requests()[0]; rec.Auth != AuthBearer || rec.Deployment != "gpt-4o-mini" {
		t.Errorf("recorded %+v", rec)
	}
}

// TestOpenAISDK_bothFamilies checks the emulator's GPT-5 and GPT-4o
// deployments against the official SDK: the SDK reads GPT-5's refusal of
// max_tokens as Azure's error (type, param, code), sends reasoning_effort
// and max_completion_tokens and reads the reasoning tokens back; the GPT-4o
// deployment takes max_tokens and a temperature and spends no reasoning.
func TestOpenAISDK_bothFamilies(t *testing.T) {
	r := mustStart(t, Config{APIKey: testKey, Deployments: map[string]string{"chat4o": "gpt-4o-2024-11-20"}}, Options{TLS: true})
	client := openai.NewClient(azure.WithEndpoint(r.URL, testVersion), azure.WithAPIKey(testKey),
		option.WithHTTPClient(r.Client()), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs := []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("You are News_Reporter, a reporter."), openai.UserMessage(testTask)}

	_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "writer5", Messages: msgs, MaxTokens: openai.Int(500)})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Code != "unsupported_parameter" || apiErr.Param != "max_tokens" || apiErr.Type != "invalid_request_error" {
		t.Fatalf("max_tokens on GPT-5: %v", err)
	}
	resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "writer5", Messages: msgs,
		MaxCompletionTokens: openai.Int(2000), ReasoningEffort: openai.ReasoningEffortLow, Verbosity: openai.ChatCompletionNewParamsVerbosityLow})
	if err != nil {
		t.Fatal(err)
	}
	if n := resp.Usage.CompletionTokensDetails.ReasoningTokens; n <= 0 || resp.Model != DefaultModelName || resp.Choices[0].Message.Content == "" {
		t.Errorf("GPT-5 answer: model %s, %d reasoning tokens, %q", resp.Model, n, resp.Choices[0].Message.Content)
	}
	resp, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat4o", Messages: msgs,
		MaxTokens: openai.Int(500), Temperature: openai.Float(0.2)})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "gpt-4o-2024-11-20" || resp.Usage.CompletionTokensDetails.ReasoningTokens != 0 {
		t.Errorf("GPT-4o answer: model %s usage %+v", resp.Model, resp.Usage)
	}
	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat4o", Messages: msgs, ReasoningEffort: openai.ReasoningEffortLow})
	if !errors.As(err, &apiErr) || apiErr.Code != "unsupported_parameter" || apiErr.Param != "reasoning_effort" {
		t.Errorf("reasoning_effort on GPT-4o: %v", err)
	}
}
