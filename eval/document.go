package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"time"
)

// FormatVersion is the version of the result document's layout; it
// changes only when a field changes meaning or goes away.
const FormatVersion = 1

// Document is an evaluation's result: one JSON document.
type Document struct {
	Format        int              `json:"format"`
	Suite         SuiteInfo        `json:"suite"`
	BinaryVersion string           `json:"binary_version"`
	Emulated      bool             `json:"emulated"`
	StartedAt     time.Time        `json:"started_at"`
	FinishedAt    time.Time        `json:"finished_at"`
	Variants      []VariantSummary `json:"variants"`
	Results       []Result         `json:"results"`
}

// SuiteInfo identifies the suite a document measured.
type SuiteInfo struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Path    string `json:"path"`
	// Hash is the hex SHA-256 of the suite file.
	Hash  string `json:"hash"`
	Cases int    `json:"cases"`
}

// VariantSummary is a variant's metrics over its results.
type VariantSummary struct {
	Variant Variant         `json:"variant"`
	Name    string          `json:"name"`
	Runs    int             `json:"runs"`
	Errors  int             `json:"errors"`
	Metrics map[string]Stat `json:"metrics"`
	// OutcomeOK is the share of runs with the case's expected outcome.
	OutcomeOK float64 `json:"outcome_ok"`
	// Judge are the judge's scores, apart from the metrics, and JudgeCostUSD their cost.
	Judge        map[string]Stat `json:"judge,omitempty"`
	JudgeCostUSD float64         `json:"judge_cost_usd,omitempty"`
}

// Stat is a metric's spread over runs.
type Stat struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	Stdev  float64 `json:"stdev"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Median float64 `json:"median"`
}

func statOf(xs []float64) Stat {
	if len(xs) == 0 {
		return Stat{}
	}
	s := slices.Sorted(slices.Values(xs))
	var sum float64
	for _, x := range s {
		sum += x
	}
	st := Stat{N: len(s), Mean: sum / float64(len(s)), Min: s[0], Max: s[len(s)-1]}
	st.Median = s[len(s)/2]
	if len(s)%2 == 0 {
		st.Median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	if len(s) > 1 {
		var ss float64
		for _, x := range s {
			ss += (x - st.Mean) * (x - st.Mean)
		}
		st.Stdev = math.Sqrt(ss / float64(len(s)-1))
	}
	return st
}

// NewDocument builds the result document of an evaluation: results in
// job order (variant, case, repeat), summaries per variant.
func NewDocument(s *Suite, variants []Variant, results []Result) (*Document, error) {
	info := SuiteInfo{Name: s.Name, Version: s.Version, Path: s.Path, Cases: len(s.Cases)}
	if b, err := os.ReadFile(s.Path); err == nil {
		sum := sha256.Sum256(b)
		info.Hash = hex.EncodeToString(sum[:])
	}
	order := map[string]int{}
	for i, j := range Jobs(s, variants, 1<<10) {
		order[j.Variant.Name()+"\x00"+j.Case.Name] = i
	}
	rs := slices.Clone(results)
	sort.SliceStable(rs, func(a, b int) bool {
		ka, kb := order[rs[a].Variant+"\x00"+rs[a].Case], order[rs[b].Variant+"\x00"+rs[b].Case]
		if ka != kb {
			return ka < kb
		}
		return rs[a].Repeat < rs[b].Repeat
	})
	d := &Document{Format: FormatVersion, Suite: info, Results: rs}
	for _, v := range variants {
		d.Variants = append(d.Variants, summarize(v, rs))
	}
	return d, nil
}

func summarize(v Variant, rs []Result) VariantSummary {
	vs := VariantSummary{Variant: v, Name: v.Name(), Metrics: map[string]Stat{}}
	values, judge := map[string][]float64{}, map[string][]float64{}
	ok := 0
	for _, r := range rs {
		if r.Variant != vs.Name {
			continue
		}
		vs.Runs++
		if r.Error != "" {
			vs.Errors++
		}
		ok += b2i(r.OutcomeOK)
		for k, x := range r.Metrics {
			values[k] = append(values[k], x)
		}
		if r.Judge != nil {
			vs.JudgeCostUSD += r.Judge.CostUSD
			for k, s := range r.Judge.Scores {
				judge[k] = append(judge[k], float64(s.Score))
			}
		}
	}
	for k, xs := range values {
		vs.Metrics[k] = statOf(xs)
	}
	if len(judge) > 0 {
		vs.Judge = map[string]Stat{}
		for k, xs := range judge {
			vs.Judge[k] = statOf(xs)
		}
	}
	if vs.Runs > 0 {
		vs.OutcomeOK = float64(ok) / float64(vs.Runs)
	}
	return vs
}

// WriteJSON writes the document, indented.
func (d *Document) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	return nil
}

// ReadDocument reads a result document.
func ReadDocument(path string) (*Document, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	var d Document
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("eval: %s is not a result document: %w", path, err)
	}
	if d.Format != FormatVersion {
		return nil, fmt.Errorf("eval: %s has format %d; this newsroom reads format %d", path, d.Format, FormatVersion)
	}
	return &d, nil
}
