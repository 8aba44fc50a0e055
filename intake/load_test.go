package intake_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"go.yaml.in/yaml/v3"

	"github.com/newsroom-dev/newsroom/intake"
)

func TestParse_ReadsTheExampleFileWithItsDefaults(t *testing.T) {
	f, err := intake.LoadFile("testdata/intake.yaml", intake.LoadOptions{Desks: []string{"roundrobin", "selector"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Sources) != 3 {
		t.Fatalf("got %d sources, want 3", len(f.Sources))
	}
	press, queue, wire := &f.Sources[0], &f.Sources[1], &f.Sources[2]
	if press.Kind() != "feed" || queue.Kind() != "queue" || wire.Kind() != "webhook" {
		t.Errorf("kinds %s %s %s", press.Kind(), queue.Kind(), wire.Kind())
	}
	if press.Interval() != 5*time.Minute || press.HourlyCap() != 20 || !press.LinkIsSource() || !press.ApprovalRequired() {
		t.Errorf("press: every %s, cap %d, link %v, approval %v", press.Interval(), press.HourlyCap(), press.LinkIsSource(), press.ApprovalRequired())
	}
	if queue.HourlyCap() != intake.DefaultMaxRunsPerHour || queue.Queue.MaxDequeueCount() != intake.DefaultMaxDequeues {
		t.Errorf("queue defaults: cap %d, dequeues %d", queue.HourlyCap(), queue.Queue.MaxDequeueCount())
	}
	if wire.Webhook.ToleranceWindow() != intake.DefaultTolerance {
		t.Errorf("tolerance %s", wire.Webhook.ToleranceWindow())
	}
	task, err := press.Render(intake.Item{Title: "Ferry strike", Summary: "Crews walk out.", Link: "https://harbour.example/1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Facts: Ferry strike\nCrews walk out.\nSource: https://harbour.example/1"; task != want {
		t.Errorf("task %q, want %q", task, want)
	}
}

func TestParse_NamesEveryProblemWithItsLineAndColumn(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // substrings of the error, in order
	}{
		{"unknown field", "sources:\n  - name: a\n    feed: https://x.example/f\n    desk: roundrobin\n    colour: red\n",
			[]string{"f.yaml:5:5: sources[0]: unknown field \"colour\""}},
		{"two kinds", "sources:\n  - name: a\n    feed: https://x.example/f\n    webhook: {secret: env:S}\n    desk: roundrobin\n",
			[]string{"f.yaml:2:5: sources[0]: want exactly one of feed, queue and webhook"}},
		{"bad interval", "sources:\n  - name: a\n    feed: https://x.example/f\n    every: 2s\n    desk: roundrobin\n",
			[]string{"f.yaml:4:12: sources[0].every: \"2s\": want a Go duration of at least 10s"}},
		{"literal secret", "sources:\n  - name: a\n    webhook: {secret: hunter2}\n    desk: roundrobin\n",
			[]string{"sources[0].webhook.secret: want a reference"}},
		{"unknown desk", "sources:\n  - name: a\n    feed: https://x.example/f\n    desk: sports\n",
			[]string{"f.yaml:4:11: sources[0].desk: no desk is named \"sports\""}},
		{"template field", "sources:\n  - name: a\n    feed: https://x.example/f\n    desk: roundrobin\n    task: \"{{.Headline}}\"\n",
			[]string{"sources[0].task: the template fails on an item"}},
		{"duplicate names", "sources:\n  - {name: a, feed: \"https://x.example/f\", desk: roundrobin}\n  - {name: a, feed: \"https://x.example/g\", desk: roundrobin}\n",
			[]string{"f.yaml:3:12: sources[1].name: \"a\" is the name of sources[0] too"}},
		{"approval enum", "sources:\n  - {name: a, feed: \"https://x.example/f\", desk: roundrobin, approval: maybe}\n",
			[]string{"sources[0].approval: \"maybe\" is not allowed; want one of required, none"}},
		{"queue without account", "sources:\n  - {name: a, queue: {name: jobs}, desk: roundrobin}\n",
			[]string{"sources[0].queue: want account (signed in with Entra ID) or connection_string"}},
		{"bad start", "sources:\n  - {name: a, feed: \"https://x.example/f\", desk: roundrobin, start: yesterday}\n",
			[]string{"sources[0].start: \"yesterday\": want now, all or an RFC 3339 time"}},
		{"empty", "", []string{"f.yaml: is empty"}},
		{"not yaml", "sources: [\n", []string{"f.yaml:1: not valid YAML"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := intake.Parse("f.yaml", []byte(c.yaml), intake.LoadOptions{Desks: []string{"roundrobin"}})
			if !errors.Is(err, intake.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error\n%s\ndoes not say %q", msg, w)
				}
			}
		})
	}
}

// TestSchema_AcceptsTheExampleAndRefusesUnknownFields validates with a
// JSON Schema implementation, not by reading the schema's own shape.
func TestSchema_AcceptsTheExampleAndRefusesUnknownFields(t *testing.T) {
	var s jsonschema.Schema
	if err := json.Unmarshal(intake.Schema(), &s); err != nil {
		t.Fatalf("the schema is not JSON: %v", err)
	}
	rs, err := s.Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/intake.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if err := rs.Validate(doc); err != nil {
		t.Errorf("the example fails the schema: %v", err)
	}
	doc["sources"].([]any)[0].(map[string]any)["colour"] = "red"
	if err := rs.Validate(doc); err == nil {
		t.Error("an unknown field passed the schema")
	}
	delete(doc["sources"].([]any)[0].(map[string]any), "colour")
	delete(doc["sources"].([]any)[1].(map[string]any), "desk")
	if err := rs.Validate(doc); err == nil {
		t.Error("a source without a desk passed the schema")
	}
}

func TestFilters_SelectKeepsMatchingNewestItems(t *testing.T) {
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	items := []intake.Item{
		{ID: "1", Title: "Harbour reopens", Published: base.Add(1 * time.Hour), Categories: []string{"Port"}},
		{ID: "2", Title: "Football final", Published: base.Add(2 * time.Hour), Categories: []string{"Port"}},
		{ID: "3", Title: "Harbour dues rise", Published: base.Add(3 * time.Hour), Categories: []string{"port"}},
		{ID: "4", Title: "Harbour fire", Published: base.Add(4 * time.Hour), Categories: []string{"Weather"}},
		{ID: "5", Title: "Harbour pilots", Published: base.Add(5 * time.Hour), Categories: []string{"Port", "Sport"}},
	}
	f := &intake.Filters{KeywordsIn: []string{"HARBOUR"}, KeywordsOut: []string{"football"}, CategoriesIn: []string{"port"},
		CategoriesOut: []string{"sport"}, Newest: 1}
	got := f.Select(items)
	if len(got) != 1 || got[0].ID != "3" {
		t.Errorf("selected %v, want item 3 only", got)
	}
	var none *intake.Filters
	if got := none.Select(items); len(got) != 5 || got[0].ID != "5" {
		t.Errorf("no filters selected %d items, first %s; want all 5, newest first", len(got), got[0].ID)
	}
}
