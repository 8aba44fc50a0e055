package grounding_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/newsroom-dev/newsroom/grounding"
)

const facts = "Facts: The city council approved a new bike lane on Main Street on Tuesday. Construction starts in March and costs 2.1 million dollars. Mayor Ana Ruiz said: \"This makes our streets safer for everyone.\""

func TestCheck_ListsWhatTheMaterialDoesNotContain(t *testing.T) {
	tests := []struct {
		name    string
		article string
		want    []string
	}{
		{"an article that keeps to the facts",
			"City Council Approves Bike Lane on Main Street\n\nThe city council approved a new bike lane on Main Street on Tuesday, according to information provided to the newsroom. Construction starts in March and costs 2.1 million dollars. Mayor Ana Ruiz said: \"This makes our streets safer for everyone.\"",
			nil},
		{"an invented figure", "The lane costs 3.4 million dollars.", []string{"3.4 million"}},
		{"an invented percentage and count", "Traffic fell by 40% and 120 cyclists used it.", []string{"40%", "120"}},
		{"an invented name mid-sentence", "The plan was drafted by engineer Tom Becker last year.", []string{"Tom Becker"}},
		{"an invented quote", "Ruiz added: \"We will finish it before summer.\"", []string{"We will finish it before summer."}},
		{"an invented date", "Work ends on 2027-05-01, and the lane opens June 12.", []string{"2027-05-01", "June 12"}},
		{"lone digits and citations are not claims", "The vote was 7 to 2 [1].", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := grounding.Check(tt.article, []string{facts})
			if diff := cmp.Diff(tt.want, r.Unsupported); diff != "" {
				t.Errorf("unsupported (-want +got):\n%s", diff)
			}
			if r.Checked < len(r.Unsupported) {
				t.Errorf("checked %d < unsupported %d", r.Checked, len(r.Unsupported))
			}
		})
	}
}

func TestCheck_ReadsJSONDocumentsAsText(t *testing.T) {
	doc := `{"source":1,"url":"https://example.org/","title":"Harbour","text":"The harbour library opens on Saturday with 12,000 books, Director L\u00e9a Martin said."}`
	r := grounding.Check("The library opens on Saturday with 12,000 books, said Léa Martin.", []string{"Write about https://example.org/", doc})
	if len(r.Unsupported) != 0 || r.Checked == 0 {
		t.Fatalf("report %+v", r)
	}
}

func TestCheck_ADateIsTheMonthAndDayTogether(t *testing.T) {
	material := []string{"Facts: The vote was on 2026-12-08. The plan has 9 parts and 12 steps. Work ends on 3 March."}
	tests := []struct {
		article string
		want    []string
	}{
		{"The council voted on December 8.", nil},
		{"The council voted Dec. 8; work ends March 3.", nil},
		{"The council voted on December 9.", []string{"December 9"}},
		{"Work ends on March 12.", []string{"March 12"}},
	}
	for _, tt := range tests {
		if got := grounding.Check(tt.article, material).Unsupported; !cmp.Equal(got, tt.want) {
			t.Errorf("%s: unsupported %q, want %q", tt.article, got, tt.want)
		}
	}
}
