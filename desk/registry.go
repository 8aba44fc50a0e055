package desk

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

//go:embed teams/*.yaml
var shipped embed.FS

// Desk is a loaded team file.
type Desk struct {
	Spec *Spec
	// Source is where the file came from: "builtin" or its path.
	Source string
	// YAML is the file as written.
	YAML []byte
}

// Registry holds desks by name: the shipped ones and those loaded from
// files. It is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	desks []*Desk
}

var builtins = sync.OnceValue(func() *Registry {
	r := &Registry{}
	entries, err := shipped.ReadDir("teams")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		data, err := shipped.ReadFile("teams/" + e.Name())
		if err != nil {
			panic(err)
		}
		s, err := Parse(e.Name(), data, LoadOptions{})
		if err != nil { // the shipped files are tested; this is a build mistake
			panic(fmt.Sprintf("desk: shipped team file %s: %v", e.Name(), err))
		}
		r.desks = append(r.desks, &Desk{Spec: s, Source: "builtin", YAML: data})
	}
	slices.SortStableFunc(r.desks, func(a, b *Desk) int {
		return slices.Index(Teams, a.Spec.Name) - slices.Index(Teams, b.Spec.Name)
	})
	return r
})

// NewRegistry returns a registry holding the shipped desks.
func NewRegistry() *Registry {
	b := builtins()
	return &Registry{desks: slices.Clone(b.desks)}
}

// Add adds a desk; a name already taken is an error.
func (r *Registry) Add(d *Desk) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.desks {
		if o.Spec.Name == d.Spec.Name {
			return fmt.Errorf("%w: %s: a desk named %q already exists (%s)", ErrInvalid, d.Source, d.Spec.Name, o.Source)
		}
	}
	r.desks = append(r.desks, d)
	return nil
}

// Get returns the desk with that name.
func (r *Registry) Get(name string) (*Desk, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, d := range r.desks {
		if d.Spec.Name == name {
			return d, true
		}
	}
	return nil, false
}

// List returns the desks, shipped ones first.
func (r *Registry) List() []*Desk {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.desks)
}

// Names returns the desks' names, shipped ones first.
func (r *Registry) Names() []string {
	var out []string
	for _, d := range r.List() {
		out = append(out, d.Spec.Name)
	}
	return out
}

// LoadFile reads and checks one team file.
func LoadFile(path string, opts LoadOptions) (*Desk, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("desk: %w", err)
	}
	if fi.Size() > maxFileSize {
		return nil, &FileError{Problems: []Problem{{File: path, Message: fmt.Sprintf("is %d bytes; a team file may have at most %d", fi.Size(), maxFileSize)}}}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("desk: %w", err)
	}
	s, err := Parse(path, data, opts)
	if err != nil {
		return nil, err
	}
	return &Desk{Spec: s, Source: path, YAML: data}, nil
}

// LoadDir adds every *.yaml and *.yml file of dir, in name order. Every
// file is checked; the error lists the problems of all of them.
func (r *Registry) LoadDir(dir string, opts LoadOptions) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("desk: %w", err)
	}
	var problems []Problem
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		d, err := LoadFile(path, opts)
		if err == nil {
			err = r.Add(d)
		}
		if fe, ok := err.(*FileError); ok {
			problems = append(problems, fe.Problems...)
		} else if err != nil {
			problems = append(problems, Problem{File: path, Message: strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "+path+": ")})
		}
	}
	if len(problems) > 0 {
		return &FileError{Problems: problems}
	}
	return nil
}
