package a2aserver

import (
	"context"
	"encoding/json"
	"time"

	"github.com/a2aproject/a2a-go/a2a"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// task is run id as an A2A task: its state, the messages as history (the
// last historyLength of them when set), and the article as an artifact.
func (h *handler) task(ctx context.Context, id string, historyLength *int) (*a2a.Task, error) {
	v, err := h.client(ctx).Run(ctx, id)
	if err != nil {
		return nil, apiError(err)
	}
	return taskOf(v, historyLength), nil
}

func taskOf(v *server.RunView, historyLength *int) *a2a.Task {
	t := &a2a.Task{ID: a2a.TaskID(v.ID), ContextID: v.ID, Status: statusOf(v),
		Metadata: map[string]any{"desk": v.Team, "cost_usd": v.Usage.CostUSD, "emulated": v.Emulated}}
	msgs := v.Messages
	if historyLength != nil && *historyLength >= 0 && *historyLength < len(msgs) {
		msgs = msgs[len(msgs)-*historyLength:]
	}
	for i := range msgs {
		t.History = append(t.History, messageOf(v.ID, &msgs[i]))
	}
	if a := articleOf(v); a != nil {
		t.Artifacts = []*a2a.Artifact{a}
	}
	return t
}

func statusOf(v *server.RunView) a2a.TaskStatus {
	ts := v.UpdatedAt
	st := a2a.TaskStatus{State: stateOf(v.Status), Timestamp: &ts}
	switch {
	case v.Status == store.StatusAwaitingApproval:
		st.Message = agentText(v.ID, "The article waits for an editor-in-chief's decision in newsroom "+
			"(approve, revise or reject); only a key with that role may answer this task.")
	case v.Error != "":
		st.Message = agentText(v.ID, v.Error)
	case v.StopReason != "":
		st.Message = agentText(v.ID, v.StopReason)
	}
	return st
}

func agentText(taskID, text string) *a2a.Message {
	m := a2a.NewMessage(a2a.MessageRoleAgent, a2a.TextPart{Text: text})
	m.TaskID, m.ContextID = a2a.TaskID(taskID), taskID
	return m
}

func messageOf(taskID string, m *agent.Message) *a2a.Message {
	role := a2a.MessageRoleAgent
	if m.Source == agent.SourceUser {
		role = a2a.MessageRoleUser
	}
	out := a2a.NewMessage(role, a2a.TextPart{Text: m.Content})
	out.TaskID, out.ContextID = a2a.TaskID(taskID), taskID
	out.Metadata = map[string]any{"speaker": m.Source}
	return out
}

// articleOf is the run's article as an artifact, with its sources and
// grounding check in the metadata; nil until there is one.
func articleOf(v *server.RunView) *a2a.Artifact {
	if v.Article == "" {
		return nil
	}
	meta := map[string]any{"status": string(v.Status)}
	if len(v.Sources) > 0 {
		srcs := make([]map[string]any, len(v.Sources))
		for i, s := range v.Sources {
			srcs[i] = map[string]any{"n": s.ID, "url": s.URL, "title": s.Title}
		}
		meta["sources"] = srcs
	}
	if v.Grounding != nil {
		meta["grounding"] = v.Grounding
	}
	return &a2a.Artifact{ID: a2a.ArtifactID(v.ID + "-article"), Name: "article", Description: "the desk's article (Markdown)",
		Parts: a2a.ContentParts{a2a.TextPart{Text: v.Article}}, Metadata: meta}
}

// follow yields the task, then its updates: each message as a working
// status update, and the end (the article artifact and the final state),
// or input-required when it waits for an editor-in-chief.
func (h *handler) follow(ctx context.Context, id string, yield func(a2a.Event, error) bool) {
	c := h.client(ctx)
	first, err := c.Run(ctx, id)
	if err != nil {
		yield(nil, apiError(err))
		return
	}
	if !yield(taskOf(first, new(int)), nil) {
		return
	}
	decided := 0
	if first.Approval != nil {
		decided = len(first.Approval.Decisions)
	}
	for ev, err := range c.Events(ctx, id, 0) {
		if err != nil {
			yield(nil, apiError(err))
			return
		}
		var e team.Event
		if json.Unmarshal(ev.Data, &e) != nil {
			continue
		}
		switch {
		case e.Type == team.EventApprovalDecided:
			decided--
		case e.Type == team.EventMessage && e.Message != nil && e.Message.Source != agent.SourceUser:
			up := &a2a.TaskStatusUpdateEvent{TaskID: a2a.TaskID(id), ContextID: id,
				Status: a2a.TaskStatus{State: a2a.TaskStateWorking, Message: messageOf(id, e.Message), Timestamp: ptrTime(e.Time)}}
			if !yield(up, nil) {
				return
			}
		case e.Type == team.EventApprovalRequested && decided <= 0, e.Type == team.EventRunFinished:
			h.finish(ctx, id, yield)
			return
		}
	}
}

func (h *handler) finish(ctx context.Context, id string, yield func(a2a.Event, error) bool) {
	v, err := h.client(ctx).Run(ctx, id)
	if err != nil {
		yield(nil, apiError(err))
		return
	}
	if a := articleOf(v); a != nil {
		if !yield(&a2a.TaskArtifactUpdateEvent{TaskID: a2a.TaskID(id), ContextID: id, Artifact: a, LastChunk: true}, nil) {
			return
		}
	}
	yield(&a2a.TaskStatusUpdateEvent{TaskID: a2a.TaskID(id), ContextID: id, Status: statusOf(v), Final: true}, nil)
}

func ptrTime(t time.Time) *time.Time { return &t }
