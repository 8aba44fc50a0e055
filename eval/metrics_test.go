package eval

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// The material of the metric fixtures: two sources, each quoting one person.
var fixtureMaterial = Material{
	Task: "Write a short story on the council's vote from the sources.",
	Sources: []Source{
		{ID: 1, Text: `Council member Ana Ruiz said: "This is the first step of a ten-year plan." The city council approved the bike lane plan on Tuesday by a vote of 7 to 2. The lane, which runs along the river from the station to the harbour, costs 4.2 million euros.`},
		{ID: 2, Text: `Mayor John Smith, who opposed the plan at first, said on Wednesday: "We will review the costs every year." Work starts in March.`},
	},
}

var fixtureExpect = Expect{
	Facts:     []string{"4.2 million euros", "7 to 2"},
	Quotes:    []string{"This is the first step of a ten-year plan"},
	Forbidden: []string{"allegedly"},
	Length:    &Length{Min: 40, Max: 120},
}

const goodHeadline = "Council Approves 4.2 Million Euro Bike Lane"

const goodBody = `The city council approved the bike lane plan on Tuesday by a vote of 7 to 2 [1]. The lane costs 4.2 million euros [1].

"This is the first step of a ten-year plan," council member Ana Ruiz said [1].

Mayor John Smith said the city would keep watch on spending [2]. "We will review the costs every year," Smith said [2]. Work starts in March [2].`

const padding = `

The decision follows a long debate in the chamber and in the wider community about how people move around the city.
Supporters and critics alike said they would follow the work closely as it goes ahead over the coming months.
The newsroom will update this report as more information becomes available, and readers may send their views.
The project is part of a wider effort to change how streets are shared by those who walk, cycle and drive.`

// TestMeasure_EachFixtureMovesOnlyItsMetrics measures a good article and
// articles bad in exactly one way: each must lower the metrics that exist
// to catch that fault, and leave every other metric as the good article
// has it (readability measures every edit, so it is left out).
func TestMeasure_EachFixtureMovesOnlyItsMetrics(t *testing.T) {
	good, _ := Measure(Article{Headline: goodHeadline, Body: goodBody}, fixtureMaterial, fixtureExpect)
	for _, m := range []string{ClaimSupport, CitationCoverage, CitationPrecision, QuoteFidelity, ExpectedFacts, ForbiddenAbsent, HeadlineSupported, LengthOK} {
		if good[m] != 1 {
			t.Errorf("good article: %s = %v, want 1", m, good[m])
		}
	}
	tests := []struct {
		name     string
		headline string
		body     string
		lowers   []string
	}{
		{"an invented figure", goodHeadline, strings.Replace(goodBody, "in March [2]", "in March with 300 workers [2]", 1),
			[]string{ClaimSupport, CitationPrecision}},
		{"a misattributed quote", goodHeadline, strings.Replace(goodBody, `every year," Smith said [2]`, `every year," Ruiz said [1][2]`, 1),
			[]string{QuoteFidelity}},
		{"a quote with one word changed", goodHeadline, strings.Replace(goodBody, "every year", "every month", 1),
			[]string{ClaimSupport, CitationPrecision, QuoteFidelity}},
		{"a missing citation", goodHeadline, strings.Replace(goodBody, "in March [2]", "in March", 1),
			[]string{CitationCoverage}},
		{"a citation to the wrong source", goodHeadline, strings.Replace(goodBody, "4.2 million euros [1]", "4.2 million euros [2]", 1),
			[]string{CitationPrecision}},
		{"an unsupported headline", "Council Approves 9 Million Euro Bike Lane", goodBody,
			[]string{HeadlineSupported}},
		{"no headline", "", goodBody,
			[]string{HeadlineSupported}},
		{"a padded article", goodHeadline, goodBody + padding,
			[]string{LengthOK}},
		{"a forbidden word", goodHeadline, strings.Replace(goodBody, "Work starts", "Work allegedly starts", 1),
			[]string{ForbiddenAbsent}},
		{"an expected fact left out", goodHeadline, strings.Replace(goodBody, " by a vote of 7 to 2", "", 1),
			[]string{ExpectedFacts}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, checks := Measure(Article{Headline: tt.headline, Body: tt.body}, fixtureMaterial, fixtureExpect)
			var lowered []string
			for _, m := range slices.Sorted(maps.Keys(good)) {
				if m == FleschReadingEase || m == GradeLevel {
					continue
				}
				switch g, ok := got[m]; {
				case !ok:
					t.Errorf("%s missing", m)
				case g < good[m]:
					lowered = append(lowered, m)
				case g > good[m]:
					t.Errorf("%s rose from %v to %v", m, good[m], g)
				}
			}
			slices.Sort(tt.lowers)
			if !slices.Equal(lowered, tt.lowers) {
				t.Errorf("lowered %v, want %v", lowered, tt.lowers)
			}
			for _, m := range tt.lowers {
				if !slices.ContainsFunc(checks, func(c Check) bool { return c.Metric == m && !c.Passed && c.Detail != "" }) {
					t.Errorf("no failed check of %s says why", m)
				}
			}
		})
	}
}

func TestMeasure_MetricsThatDoNotApplyAreAbsent(t *testing.T) {
	got, _ := Measure(Article{Body: "The council met on Tuesday."}, Material{Task: "Facts: The council met on Tuesday."}, Expect{})
	for _, m := range []string{CitationCoverage, CitationPrecision, QuoteFidelity, ExpectedFacts, ForbiddenAbsent, LengthOK} {
		if v, ok := got[m]; ok {
			t.Errorf("%s = %v, want absent", m, v)
		}
	}
	if got[ClaimSupport] != 1 || got[HeadlineSupported] != 0 {
		t.Errorf("claim_support %v (want 1), headline_supported %v (want 0)", got[ClaimSupport], got[HeadlineSupported])
	}
}

func TestReadability_FollowsTheFleschFormulas(t *testing.T) {
	// 2 sentences, 9 words, 10 syllables (hap-py).
	ease, grade, ok := readability("The cat sat on the mat. It was happy.")
	wps, spw := 9.0/2, 10.0/9
	if !ok || !near(ease, 206.835-1.015*wps-84.6*spw) || !near(grade, 0.39*wps+11.8*spw-15.59) {
		t.Errorf("ease %v grade %v", ease, grade)
	}
	if _, _, ok := readability("  "); ok {
		t.Error("an empty text has a readability")
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestSentences_KeepCitationsAndAbbreviations(t *testing.T) {
	got := sentences(`Gov. Maria Lopez signed it Dec. 8 on Main St. in town [1]. "It works," she said. [2] Next one!`)
	want := []string{`Gov. Maria Lopez signed it Dec. 8 on Main St. in town [1].`, `"It works," she said. [2]`, `Next one!`}
	if !slices.Equal(got, want) {
		t.Errorf("sentences\n got %q\nwant %q", got, want)
	}
}

func TestSplitHeadline_TakesTheTitleLineOrTheDesksHeadline(t *testing.T) {
	tests := []struct {
		name, body      string
		headlines       []string
		wantHead, wantB string
	}{
		{"a title line", "Council Votes\n\nThe council voted.", nil, "Council Votes", "The council voted."},
		{"a markdown heading", "# Council Votes\nThe council voted.", nil, "Council Votes", "The council voted."},
		{"no title", "The council voted.\n\nIt met on Tuesday.", nil, "", "The council voted.\n\nIt met on Tuesday."},
		{"the desk's headline replaces the writer's title", "Council Votes\n\nThe council voted.", []string{"Budget Passes"}, "Budget Passes", "The council voted."},
		{"the desk's headline over an untitled body", "The council voted.", []string{"Budget Passes"}, "Budget Passes", "The council voted."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, b := SplitHeadline(tt.body, tt.headlines)
			if h != tt.wantHead || b != tt.wantB {
				t.Errorf("got %q / %q, want %q / %q", h, b, tt.wantHead, tt.wantB)
			}
		})
	}
}
