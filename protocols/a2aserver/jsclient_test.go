package a2aserver_test

import (
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/internal/nodeclient"
	"github.com/newsroom-dev/newsroom/protocols/internal/svctest"
)

// jsResult is what testdata/a2a-client.mjs prints; states are A2A 1.0's
// enum numbers as the JS SDK gives them (3 completed, 6 input required).
type jsResult struct {
	Skills         []string `json:"skills"`
	TaskID         string   `json:"taskId"`
	State          int      `json:"state"`
	Article        string   `json:"article"`
	StreamStates   []int    `json:"streamStates"`
	StreamArtifact bool     `json:"streamArtifact"`
	AfterDecision  *struct {
		State   int    `json:"state"`
		Article string `json:"article"`
	} `json:"afterDecision"`
	DecisionError map[string]any `json:"decisionError"`
	BadInput      any            `json:"badInput"`
	Error         map[string]any `json:"error"`
}

const (
	jsCompleted     = 3
	jsInputRequired = 6
)

func TestA2A_TheJavaScriptSDKDelegatesAStory(t *testing.T) {
	t.Parallel()
	nodeclient.Dir(t)
	s := start(t, svctest.Options{})
	var got jsResult
	nodeclient.Run(t, "../testdata/a2a-client.mjs", &got, nil, s.HTTP.URL, s.Keys["reporter"],
		"Facts: The harbour bridge reopened on Monday after repairs costing 3 million euros.", "none")
	if got.Error != nil {
		t.Fatalf("client: %+v", got)
	}
	if got.State != jsCompleted || !strings.Contains(got.Article, "bridge") || len(got.Skills) == 0 {
		t.Errorf("send: %+v, want a completed task with the article", got)
	}
	if n := len(got.StreamStates); n < 2 || got.StreamStates[n-1] != jsCompleted || !got.StreamArtifact {
		t.Errorf("stream states %v, artifact %v", got.StreamStates, got.StreamArtifact)
	}
	if got.BadInput == "accepted" {
		t.Error("an empty message was accepted")
	}
}

func TestA2A_TheJavaScriptSDKWaitsForAPerson(t *testing.T) {
	t.Parallel()
	nodeclient.Dir(t)
	s := start(t, svctest.Options{RequireApproval: true})
	var mine jsResult
	nodeclient.Run(t, "../testdata/a2a-client.mjs", &mine, nil, s.HTTP.URL, s.Keys["reporter"], "Facts: The library opens on Saturday.", "", s.Keys["reporter"])
	// The JSON-RPC error's data carries newsroom's own code and message.
	if mine.State != jsInputRequired || mine.DecisionError == nil || !strings.Contains(mine.DecisionError["data"].(string), "forbidden") {
		t.Fatalf("reporter: %+v, want input-required and its own approve refused", mine)
	}
	var got jsResult
	nodeclient.Run(t, "../testdata/a2a-client.mjs", &got, nil, s.HTTP.URL, s.Keys["reporter"], "Facts: The library opens on Saturday.", "", s.Keys["editor-in-chief"])
	if got.AfterDecision == nil || got.AfterDecision.State != jsCompleted || got.AfterDecision.Article == "" {
		t.Fatalf("after the editor-in-chief's approve: %+v", got)
	}
}
