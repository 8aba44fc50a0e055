package main

import (
	"runtime/debug"
	"strings"
)

// version may be set at build time (-ldflags "-X main.version=..."); by
// default the module version from the build info is used.
var version = ""

// buildVersion returns the module version: -X main.version when set, else
// the build info's (v1.2.3 from go install of a tag, or "(devel)").
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// versionString is what --version prints: the module version, the VCS
// revision and time, whether the tree had local changes, and the Go version.
func versionString() string {
	var b strings.Builder
	b.WriteString("newsroom " + buildVersion())
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b.String() + " (no build info)"
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		b.WriteString(" revision " + rev)
		if settings["vcs.modified"] == "true" {
			b.WriteString(" (modified)")
		}
		if t := settings["vcs.time"]; t != "" {
			b.WriteString(" " + t)
		}
	} else {
		b.WriteString(" revision unknown")
	}
	b.WriteString(" " + bi.GoVersion)
	return b.String()
}
