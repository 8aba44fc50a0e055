package main

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/newsroom-dev/newsroom/desk"
)

func TestArticleMarkdown(t *testing.T) {
	t.Parallel()
	body := "Council Approves Bike Lane\n\nThe city council approved a bike lane on Tuesday.\n\nWork starts in March."
	cases := []struct {
		name    string
		a       desk.Article
		sources []mdSource
		want    string
	}{
		{"headline replaces the title", desk.Article{Body: body, Headlines: []string{"Main Street Gets a Bike Lane", "Other"}}, nil,
			"# Main Street Gets a Bike Lane\n\nThe city council approved a bike lane on Tuesday.\n\nWork starts in March.\n"},
		{"the title becomes the headline", desk.Article{Body: body}, nil,
			"# Council Approves Bike Lane\n\nThe city council approved a bike lane on Tuesday.\n\nWork starts in March.\n"},
		{"a Markdown title", desk.Article{Body: "## **Bridge Closes**\n\nThe bridge closes in May."}, nil,
			"# Bridge Closes\n\nThe bridge closes in May.\n"},
		{"no title: a first sentence stays", desk.Article{Body: "The bridge closes in May.\n\nDetour via Elm Road."}, nil,
			"The bridge closes in May.\n\nDetour via Elm Road.\n"},
		{"sources", desk.Article{Body: body, Headlines: []string{"H"}},
			[]mdSource{{ID: 1, Title: "Council minutes [PDF]", URL: "https://example.org/m.pdf"}, {ID: 2, URL: "https://example.org/b"}},
			"# H\n\nThe city council approved a bike lane on Tuesday.\n\nWork starts in March.\n\n## Sources\n\n" +
				"1. [Council minutes \\[PDF\\]](https://example.org/m.pdf)\n2. [https://example.org/b](https://example.org/b)\n"},
	}
	for _, c := range cases {
		if got := articleMarkdown(c.a, c.sources); got != c.want {
			t.Errorf("%s:\n%q\nwant\n%q", c.name, got, c.want)
		}
	}
}

// TestSourcesField reads sources from a result type that has them, as
// team.Result will once runs read documents.
func TestSourcesField(t *testing.T) {
	t.Parallel()
	type source struct {
		ID         int
		URL, Title string
		Text       string
	}
	withSources := struct{ Sources []source }{[]source{{ID: 1, URL: "https://a.example", Title: "A", Text: "x"}, {ID: 2, URL: "https://b.example"}}}
	got := sourcesField(reflect.ValueOf(withSources))
	want := []mdSource{{1, "A", "https://a.example"}, {2, "", "https://b.example"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("sources %+v, want %+v", got, want)
	}
	if got := sourcesField(reflect.ValueOf(struct{ Task string }{"x"})); got != nil {
		t.Fatalf("no Sources field: %+v", got)
	}
}

func TestRun_JSONReportsReasoningTokensPerMessageAgentAndRun(t *testing.T) {
	t.Parallel()
	env, dir := cleanEnv(t)
	r := runBinary(t, env, dir, "run", "--no-cache", "--format", "json", facts)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	type usage struct {
		Completion int  `json:"completion_tokens"`
		Reasoning  *int `json:"reasoning_tokens"`
	}
	var doc struct {
		Usage    usage `json:"usage"`
		Messages []struct {
			Source string `json:"source"`
			Usage  usage  `json:"usage"`
		} `json:"messages"`
		PerAgent map[string]usage `json:"per_agent"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, m := range doc.Messages[1:] {
		if m.Usage.Reasoning == nil || *m.Usage.Reasoning <= 0 || *m.Usage.Reasoning >= m.Usage.Completion {
			t.Errorf("message from %s: usage %+v, want reasoning tokens within the completion", m.Source, m.Usage)
			continue
		}
		sum += *m.Usage.Reasoning
	}
	agents := 0
	for name, u := range doc.PerAgent {
		if u.Reasoning == nil || *u.Reasoning <= 0 {
			t.Errorf("agent %s: no reasoning tokens", name)
			continue
		}
		agents += *u.Reasoning
	}
	if doc.Usage.Reasoning == nil || *doc.Usage.Reasoning != sum || agents != sum {
		t.Errorf("run reasoning %v, messages %d, agents %d: want the same sum", doc.Usage.Reasoning, sum, agents)
	}
}
