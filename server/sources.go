package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool"
	"github.com/newsroom-dev/newsroom/tool/web"
)

// A run's own options: the documents it is given before its team starts
// ("sources"), and its tools and grounding check switched off ("tools":
// false, "grounding": false), as `newsroom run --source`, --no-tools and
// --no-grounding do for the CLI.

// MaxRunSources is how many documents one run may be given.
const MaxRunSources = 5

// sourcesTimeout bounds the fetching of a run's sources while its creation
// request waits (each fetch has its own 15 s limit; they run at once).
const sourcesTimeout = 20 * time.Second

// FetchSources reads documents given to a run before its team starts:
// web.Fetcher.Sources, which fetches under the same guard and allow list as
// the agents' tools and as `newsroom run --source`. A failure is a
// *web.SourceError naming the URL.
type FetchSources func(ctx context.Context, urls []string) ([]*tool.Source, error)

// RunOptionsView is a run's own options as the API shows them; absent when
// they are the service's defaults.
type RunOptionsView struct {
	// Sources are the URLs of the documents the run was given (as read,
	// after redirects).
	Sources []string `json:"sources,omitempty"`
	// Tools and Grounding are false when the run turned them off.
	Tools     *bool `json:"tools,omitempty"`
	Grounding *bool `json:"grounding,omitempty"`
}

// optionsView returns the view of a run's options, nil for the defaults.
func optionsView(o store.RunOptions) *RunOptionsView {
	o.Intake = nil // shown as the run's own field
	o.SubmittedBy = ""
	if o.IsZero() {
		return nil
	}
	v := &RunOptionsView{}
	for _, d := range o.Sources {
		v.Sources = append(v.Sources, d.URL)
	}
	off := false
	if o.NoTools {
		v.Tools = &off
	}
	if o.NoGrounding {
		v.Grounding = &off
	}
	return v
}

// fieldError is a 400 naming the request's field.
func fieldError(code, field, msg string) error {
	return &apiError{Status: http.StatusBadRequest, Code: code, Field: field, Message: field + ": " + msg}
}

// checkRunOptions validates the options of a run's request: the source URLs
// (absolute http or https, at most MaxRunSources, no duplicates), and that
// the service can fetch them at all.
func (s *Server) checkRunOptions(req *CreateRunRequest) error {
	if len(req.Sources) == 0 {
		return nil
	}
	if s.cfg.FetchSources == nil {
		return fieldError("sources_unavailable", "sources", "this service does not fetch sources")
	}
	if len(req.Sources) > MaxRunSources {
		return fieldError("bad_sources", "sources", "at most "+strconv.Itoa(MaxRunSources)+" sources per run, not "+strconv.Itoa(len(req.Sources)))
	}
	seen := map[string]bool{}
	for i, u := range req.Sources {
		field := "sources[" + strconv.Itoa(i) + "]"
		if err := web.CheckURL(u); err != nil {
			return fieldError("bad_source_url", field, "not an absolute http or https URL without credentials, of at most "+
				strconv.Itoa(web.MaxURLBytes)+" bytes")
		}
		if seen[u] {
			return fieldError("bad_source_url", field, "given twice")
		}
		seen[u] = true
	}
	return nil
}

// runOptions fetches the request's sources and returns the run's options.
// A source that cannot be read refuses the run (422), as `newsroom run
// --source` refuses to start: nothing is queued and no model is called.
func (s *Server) runOptions(ctx context.Context, req *CreateRunRequest) (store.RunOptions, error) {
	o := requestedOptions(req)
	o.Sources = nil
	if len(req.Sources) == 0 {
		return o, nil
	}
	ctx, cancel := context.WithTimeout(ctx, sourcesTimeout)
	defer cancel()
	docs, err := s.cfg.FetchSources(ctx, req.Sources)
	if err != nil {
		return o, sourceError(err)
	}
	for i, d := range docs {
		doc := store.Document{URL: d.URL, Title: d.Title, FetchedAt: d.FetchedAt.UTC(), Text: d.Text}
		if i < len(req.Sources) && req.Sources[i] != d.URL {
			doc.AskedURL = req.Sources[i]
		}
		o.Sources = append(o.Sources, doc)
	}
	return o, nil
}

// sourceError is the 422 of a source that could not be read. Its message
// names the URL and why; a destination the guard refused says so, without
// more about the address than the guard's reason.
func sourceError(err error) error {
	field, url := "sources", ""
	var se *web.SourceError
	if errors.As(err, &se) {
		field, url = "sources["+strconv.Itoa(se.Index)+"]", se.URL
	}
	ae := &apiError{Status: http.StatusUnprocessableEntity, Code: "source_unavailable", Field: field}
	var refused *web.RefusedError
	switch {
	case errors.As(err, &refused):
		ae.Code, ae.Message = "source_refused", field+": "+url+" is not allowed: "+refused.Reason+
			" (the service's fetch allow list, "+web.EnvAllow+", may let it through)"
	case errors.Is(err, context.DeadlineExceeded):
		ae.Message = field + ": " + url + " could not be read in time"
	case se != nil:
		ae.Message = field + ": " + se.Err.Error()
	default:
		ae.Message = field + ": " + err.Error()
	}
	return ae
}

// givenSources are the documents stored with the run, as the team takes
// them (team.WithSources numbers them and hands them over once; a resumed
// run that has them already ignores them).
func givenSources(o store.RunOptions) []*tool.Source {
	var out []*tool.Source
	for _, d := range o.Sources {
		out = append(out, tool.NewSource(d.URL, d.Title, d.Text, d.FetchedAt))
	}
	return out
}

// runOptionsOf are the run options of a run's own options.
func runOptionsOf(o store.RunOptions) []team.RunOption {
	var opts []team.RunOption
	if docs := givenSources(o); len(docs) > 0 {
		opts = append(opts, team.WithSources(docs))
	}
	if o.NoGrounding {
		opts = append(opts, team.WithGrounding(nil))
	}
	return opts
}

// requestedOptions are the run options the request asks for, its sources
// named by URL only (nothing fetched): what an idempotent replay is
// compared on.
func requestedOptions(req *CreateRunRequest) store.RunOptions {
	o := store.RunOptions{NoTools: req.Tools != nil && !*req.Tools, NoGrounding: req.Grounding != nil && !*req.Grounding}
	for _, u := range req.Sources {
		o.Sources = append(o.Sources, store.Document{URL: u})
	}
	return o
}

// sameOptions reports whether two runs' options were asked for alike (the
// same URLs asked for in the same order; the documents' texts may differ).
func sameOptions(a, b store.RunOptions) bool {
	if a.NoTools != b.NoTools || a.NoGrounding != b.NoGrounding || len(a.Sources) != len(b.Sources) {
		return false
	}
	for i := range a.Sources {
		if askedURL(a.Sources[i]) != askedURL(b.Sources[i]) {
			return false
		}
	}
	return true
}

// askedURL is the URL a run asked for to get d.
func askedURL(d store.Document) string {
	if d.AskedURL != "" {
		return d.AskedURL
	}
	return d.URL
}
