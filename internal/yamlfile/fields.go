package yamlfile

import (
	"reflect"
	"strconv"
	"strings"
)

// fieldInfo describes one field of a format type, from its tags.
type fieldInfo struct {
	name     string
	index    int
	required bool
	enum     []string
	minimum  *float64
	maximum  *float64
	doc      string
}

func fieldsOf(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fi := fieldInfo{name: name, index: i, required: f.Tag.Get("required") == "true", doc: f.Tag.Get("doc")}
		if e := f.Tag.Get("enum"); e != "" {
			fi.enum = strings.Split(e, ",")
		}
		if m := f.Tag.Get("minimum"); m != "" {
			v, _ := strconv.ParseFloat(m, 64)
			fi.minimum = &v
		}
		if m := f.Tag.Get("maximum"); m != "" {
			v, _ := strconv.ParseFloat(m, 64)
			fi.maximum = &v
		}
		out = append(out, fi)
	}
	return out
}

func names(fs []fieldInfo) string {
	n := make([]string, len(fs))
	for i, f := range fs {
		n[i] = f.name
	}
	return strings.Join(n, ", ")
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}
