package main

import (
	"cmp"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// writeHelp prints a command's help: its description, the synopsis naming
// its arguments, its subcommands, examples, and its flags by group, the
// command's own flags first.
func writeHelp(w io.Writer, c *cobra.Command) {
	var b strings.Builder
	if d := strings.TrimSpace(cmp.Or(c.Long, c.Short)); d != "" {
		b.WriteString(d + "\n\n")
	}
	b.WriteString("Usage:\n")
	if !c.HasAvailableSubCommands() {
		b.WriteString("  " + c.UseLine() + "\n")
	} else {
		b.WriteString("  " + c.CommandPath() + " COMMAND [flags]\n")
		b.WriteString("\nCommands:\n")
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				fmt.Fprintf(&b, "  %-*s  %s\n", c.NamePadding(), sub.Name(), sub.Short)
			}
		}
	}
	if c.HasExample() {
		b.WriteString("\nExamples:\n" + strings.TrimRight(c.Example, "\n") + "\n")
	}
	writeFlagGroups(&b, c)
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(&b, "\nRun '%s COMMAND --help' for a command's flags.\n", c.CommandPath())
	}
	_, _ = io.WriteString(w, b.String())
}

// writeFlagGroups lists the command's flags: its own first (in the order
// they are defined), then each group of groupOrder, then inherited flags.
func writeFlagGroups(b *strings.Builder, c *cobra.Command) {
	groups := map[string]*pflag.FlagSet{}
	var order []string
	add := func(name string, f *pflag.Flag) {
		fs, ok := groups[name]
		if !ok {
			fs = pflag.NewFlagSet(name, pflag.ContinueOnError)
			fs.SortFlags = false
			groups[name] = fs
			order = append(order, name)
		}
		fs.AddFlag(f)
	}
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			add(flagGroup(f), f)
		}
	})
	c.InheritedFlags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			add("Global", f)
		}
	})
	print := func(title, name string) {
		if fs, ok := groups[name]; ok {
			b.WriteString("\n" + title + ":\n" + fs.FlagUsagesWrapped(100))
			delete(groups, name)
		}
	}
	print("Flags", "")
	for _, g := range groupOrder {
		print(g+" flags", g)
	}
	for _, g := range order { // groups not in groupOrder, in the order met
		if g != "Global" {
			print(g+" flags", g)
		}
	}
	print("Global flags", "Global")
}
