package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/store"
)

// newArticlesCmd lists, shows, corrects and retracts published articles in
// the store, for people who work in a terminal.
func newArticlesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "articles COMMAND [flags]",
		Short: "List, show, correct and retract published articles",
		Long: `List, show, correct and retract the articles the service published (a run an
editor-in-chief approved, or one that succeeded without approval under
serve --publish all). Corrections and retractions are new versions; every
version is kept.`,
		Example: `  newsroom articles list
  newsroom articles show art_0123abcd --provenance
  newsroom articles correct art_0123abcd --note "The vote was seven to two."
  newsroom articles retract art_0123abcd --note "The vote was annulled."`,
		RunE: groupRunE,
	}
	cmd.AddCommand(newArticlesListCmd(), newArticlesShowCmd(), newArticlesChangeCmd("correct"), newArticlesChangeCmd("retract"))
	return cmd
}

func newArticlesListCmd() *cobra.Command {
	var desk, status string
	var limit int
	cmd := &cobra.Command{
		Use:     "list [flags]",
		Short:   "List articles, newest first",
		Example: "  newsroom articles list --desk selector --status published",
		Args:    noArgs,
	}
	sf := addStoreFlags(cmd.Flags(), true)
	cmd.Flags().StringVar(&desk, "desk", "", "only this desk's articles")
	cmd.Flags().StringVar(&status, "status", "", "only published or retracted articles")
	cmd.Flags().IntVar(&limit, "limit", 20, "how many (1 to 100)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if status != "" && status != string(store.ArticlePublished) && status != string(store.ArticleRetracted) {
			return usageErrorf("--status must be published or retracted, not %q", status)
		}
		if limit < 1 || limit > 100 {
			return usageErrorf("--limit must be from 1 to 100")
		}
		st, _, err := sf.open(cmd.Context())
		if err != nil {
			return err
		}
		defer st.Close()
		as, _, err := st.ListArticles(cmd.Context(), store.ArticleListOptions{Desk: desk, Status: store.ArticleStatus(status), Limit: limit})
		if err != nil {
			return fmt.Errorf("articles list: %w", err)
		}
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPUBLISHED\tDESK\tSTATUS\tVERSION\tHEADLINE")
		for _, a := range as {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", a.ID, a.PublishedAt.Format(time.RFC3339), a.Desk, a.Status, a.Version, a.Headline)
		}
		return tw.Flush()
	}
	return cmd
}

func newArticlesShowCmd() *cobra.Command {
	var provenance bool
	cmd := &cobra.Command{
		Use:     "show ID [flags]",
		Short:   "Show an article (with --provenance, its whole responsibility record)",
		Example: "  newsroom articles show art_0123abcd --provenance",
		Args:    exactlyOneArg("an article id"),
	}
	sf := addStoreFlags(cmd.Flags(), true)
	cmd.Flags().BoolVar(&provenance, "provenance", false, "print the whole editorial responsibility record: how it was made, the models, who approved each version and when, the decisions, the grounding check and the sources")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		st, _, err := sf.open(cmd.Context())
		if err != nil {
			return err
		}
		defer st.Close()
		a, err := st.GetArticle(cmd.Context(), args[0])
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: no article %s", errRunFailed, args[0])
		}
		if err != nil {
			return fmt.Errorf("articles show: %w", err)
		}
		out := cmd.OutOrStdout()
		fmt.Fprintf(out, "# %s\n\n%s\n\n", a.Headline, a.Body)
		fmt.Fprintf(out, "%s · %s · version %d · published %s · updated %s · %s\n", a.ID, a.Desk, a.Version,
			a.PublishedAt.Format(time.RFC3339), a.UpdatedAt.Format(time.RFC3339), a.Status)
		if provenance {
			var vs []*store.Article
			if vs, err = st.ArticleVersions(cmd.Context(), a.ID); err != nil {
				return fmt.Errorf("articles show: %w", err)
			}
			printProvenance(out, a, vs)
		}
		return nil
	}
	return cmd
}

// printProvenance prints the responsibility record of a and its versions:
// enough for an auditor to see who took responsibility for any published
// text.
func printProvenance(out io.Writer, a *store.Article, versions []*store.Article) {
	p := a.Provenance
	fmt.Fprintf(out, "\nProvenance\n  digital source type: %s\n  models: %s\n", p.DigitalSourceType, strings.Join(p.Models, ", "))
	fmt.Fprintf(out, "  approval required: %v\n", a.Approval.Required)
	fmt.Fprintln(out, "Responsibility, per version:")
	for _, ap := range p.Approvals {
		fmt.Fprintf(out, "  version %d: %s at %s\n", ap.Version, ap.By, ap.At.Format(time.RFC3339))
	}
	fmt.Fprintln(out, "Decisions on the run that wrote it:")
	for _, d := range a.Approval.Decisions {
		fmt.Fprintf(out, "  %s by %s at %s", d.Decision, d.By, d.At.Format(time.RFC3339))
		if d.Note != "" {
			fmt.Fprintf(out, ": %s", d.Note)
		}
		fmt.Fprintln(out)
	}
	for _, c := range a.Corrections {
		fmt.Fprintf(out, "Correction (version %d) by %s at %s: %s\n", c.Version, c.By, c.At.Format(time.RFC3339), c.Note)
	}
	if r := a.Retraction; r != nil {
		fmt.Fprintf(out, "Retracted (version %d) by %s at %s: %s\n", r.Version, r.By, r.At.Format(time.RFC3339), r.Note)
	}
	if g := a.Grounding; g != nil {
		fmt.Fprintf(out, "Grounding: %d claims checked, %d unsupported\n", g.Checked, len(g.Unsupported))
		for _, u := range g.Unsupported {
			fmt.Fprintf(out, "  unsupported: %s\n", u)
		}
	}
	fmt.Fprintln(out, "Sources:")
	for _, s := range a.Sources {
		fmt.Fprintf(out, "  [%d] %s %s\n", s.ID, s.URL, s.Title)
	}
	fmt.Fprintln(out, "Versions:")
	for _, v := range versions {
		fmt.Fprintf(out, "  version %d (%s) at %s from run %s: %s\n", v.Version, v.Status, v.UpdatedAt.Format(time.RFC3339), v.RunID, v.Headline)
	}
}

// newArticlesChangeCmd is articles correct or articles retract.
func newArticlesChangeCmd(verb string) *cobra.Command {
	var note, bodyFile, by string
	cmd := &cobra.Command{
		Use:   verb + " ID --note NOTE [flags]",
		Short: map[string]string{"correct": "Correct an article: a new version with a dated correction notice", "retract": "Retract an article: a new version with a dated retraction notice"}[verb],
		Args:  exactlyOneArg("an article id"),
	}
	sf := addStoreFlags(cmd.Flags(), true)
	cmd.Flags().StringVar(&note, "note", "", "the notice readers see (required)")
	cmd.Flags().StringVar(&by, "by", localPerson(), "who takes responsibility for the change")
	if verb == "correct" {
		cmd.Flags().StringVar(&bodyFile, "body-file", "", "a file with the corrected body (Markdown); default the body as it is")
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if strings.TrimSpace(note) == "" {
			return usageErrorf("articles %s needs --note NOTE", verb)
		}
		var body string
		if bodyFile != "" {
			b, err := os.ReadFile(bodyFile)
			if err != nil {
				return usageErrorf("--body-file: %v", err)
			}
			body = string(b)
		}
		st, _, err := sf.open(cmd.Context())
		if err != nil {
			return err
		}
		defer st.Close()
		a, err := st.GetArticle(cmd.Context(), args[0])
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: no article %s", errRunFailed, args[0])
		}
		if err != nil {
			return fmt.Errorf("articles %s: %w", verb, err)
		}
		if verb == "correct" {
			err = server.Correct(a, note, body, by, time.Now())
		} else {
			err = server.Retract(a, note, by, time.Now())
		}
		if err == nil {
			err = st.PutArticle(cmd.Context(), a)
		}
		if err != nil {
			return fmt.Errorf("%w: articles %s: %w", errRunFailed, verb, err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s is now version %d (%s)\n", a.ID, a.Version, a.Status)
		return nil
	}
	return cmd
}

// exactlyOneArg wants one argument, what names.
func exactlyOneArg(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageErrorf("%s needs %s (see articles list)", cmd.CommandPath(), what)
		}
		return nil
	}
}
