package profile_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/newsroom-dev/newsroom/model/profile"
)

func TestTable_LookupKnowsTheFamilies(t *testing.T) {
	tab := profile.Default()
	for _, tc := range []struct {
		model     string
		name      string
		reasoning bool
		efforts   []string
		verbosity bool
		window    int
	}{
		{"gpt-5", "gpt-5", true, []string{"minimal", "low", "medium", "high"}, true, 272000},
		{"gpt-5-2025-08-07", "gpt-5", true, []string{"minimal", "low", "medium", "high"}, true, 272000},
		{"GPT-5-mini", "gpt-5-mini", true, []string{"minimal", "low", "medium", "high"}, true, 272000},
		{"gpt-5-nano-2025-08-07", "gpt-5-nano", true, []string{"minimal", "low", "medium", "high"}, true, 272000},
		{"gpt-5-chat-2025-10-03", "gpt-5-chat", false, nil, false, 128000},
		{"gpt-5.1", "gpt-5.1", true, []string{"none", "low", "medium", "high"}, true, 272000},
		{"gpt-5.1-2025-11-13", "gpt-5.1", true, []string{"none", "low", "medium", "high"}, true, 272000},
		{"gpt-5.4", "gpt-5.4", true, []string{"none", "low", "medium", "high"}, true, 272000},
		{"o3", "o3", true, []string{"low", "medium", "high"}, false, 200000},
		{"o4-mini-2025-04-16", "o4-mini", true, []string{"low", "medium", "high"}, false, 200000},
		{"gpt-4.1-mini", "gpt-4.1-mini", false, nil, false, 1047576},
		{"gpt-4o-2024-11-20", "gpt-4o", false, nil, false, 128000},
	} {
		p, ok := tab.Lookup(tc.model)
		if !ok || p.Name != tc.name || p.Reasoning != tc.reasoning || !slices.Equal(p.Efforts, tc.efforts) || p.Verbosity != tc.verbosity || p.ContextWindow != tc.window {
			t.Errorf("Lookup(%q) = %+v, %v", tc.model, p, ok)
		}
	}
	if p, ok := tab.Lookup("my-prod-deployment"); ok || p.Known() {
		t.Errorf("an unknown name got %+v", p)
	}
}

func TestProfile_AcceptsWhatTheFamilyTakes(t *testing.T) {
	gpt5, _ := profile.Default().Lookup("gpt-5")
	gpt4o, _ := profile.Default().Lookup("gpt-4o")
	for _, param := range profile.SamplingParams() {
		if gpt5.Accepts(param) {
			t.Errorf("gpt-5 accepts %s", param)
		}
		if !gpt4o.Accepts(param) {
			t.Errorf("gpt-4o refuses %s", param)
		}
	}
	if !gpt5.Accepts(profile.ParamReasoningEffort) || gpt4o.Accepts(profile.ParamReasoningEffort) || gpt4o.Accepts(profile.ParamVerbosity) {
		t.Error("reasoning_effort and verbosity belong to gpt-5 only")
	}
	if gpt5.AcceptsEffort("none") || !gpt5.AcceptsEffort("minimal") || gpt5.Lower("medium") != "low" || gpt5.Lower("minimal") != "" {
		t.Error("gpt-5's efforts are minimal to high")
	}
}

func TestSet_ProfileComesFromConfigThenNameThenFirstAnswer(t *testing.T) {
	s := profile.NewSet(nil, map[string]string{"prod": "gpt-5-mini"})
	if p := s.Profile("prod"); p.Name != "gpt-5-mini" {
		t.Errorf("configured: %+v", p)
	}
	if p := s.Profile("o4-mini"); p.Name != "o4-mini" {
		t.Errorf("by name: %+v", p)
	}
	if p := s.Profile("writer"); p.Known() {
		t.Errorf("unknown: %+v", p)
	}
	s.Observe("writer", "gpt-5-2025-08-07")
	s.Observe("writer", "gpt-4o-2024-11-20") // only the first answer counts
	if p := s.Profile("writer"); p.Name != "gpt-5" {
		t.Errorf("from the first answer: %+v", p)
	}
	s.Observe("prod", "gpt-4o") // configuration wins over answers
	if p := s.Profile("prod"); p.Name != "gpt-5-mini" {
		t.Errorf("configured then answered: %+v", p)
	}
}

func TestSet_AdaptIsOncePerParameterAndConcurrentCallsAgree(t *testing.T) {
	s := profile.NewSet(nil, nil)
	if s.Params("d").MaxCompletionTokens() || !s.Params("d").Sends(profile.ParamTemperature) {
		t.Fatal("an unknown model starts as GPT-4o")
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	firsts := 0
	for range 8 {
		wg.Go(func() {
			adapted, first := s.Adapt("d", profile.ParamMaxTokens)
			mu.Lock()
			defer mu.Unlock()
			if !adapted {
				t.Error("a concurrent refusal was not adapted")
			}
			if first {
				firsts++
			}
		})
	}
	wg.Wait()
	if firsts != 1 || !s.Params("d").MaxCompletionTokens() {
		t.Errorf("%d calls made the change (want 1); moved = %v", firsts, s.Params("d").MaxCompletionTokens())
	}
	if adapted, _ := s.Adapt("d", profile.ParamMaxCompletionTokens); adapted {
		t.Error("both max_tokens and max_completion_tokens refused: nothing left to adapt, yet it adapted")
	}
	if adapted, first := s.Adapt("d", profile.ParamTemperature); !adapted || !first || s.Params("d").Sends(profile.ParamTemperature) {
		t.Error("temperature not dropped")
	}
	if adapted, _ := s.Adapt("d", ""); adapted {
		t.Error("a refusal naming no parameter was adapted")
	}
	if s.Params("other").MaxCompletionTokens() {
		t.Error("the adaptation leaked to another deployment")
	}
}
