// Command kubevalidate checks rendered Kubernetes manifests offline and strictly.
//
// It reads multi-document YAML (files named on the command line, or stdin when
// none or "-" is given), picks the typed Kubernetes API struct for each
// document by apiVersion and kind, and decodes it the way the API server does
// with strict field validation: unknown fields, duplicate fields and wrong
// value types are errors. Kinds it does not know are errors too, so a chart
// cannot slip an unchecked object past it. It then checks required basics
// (names, containers, ports, probes pointing at declared ports, selectors
// matching pod labels, env references to rendered ConfigMaps and Secrets).
//
// Usage:
//
//	helm template ... | kubevalidate            validate, print a summary, exit 1 on any problem
//	kubevalidate a.yaml b.yaml                  same for files
//	helm template ... | kubevalidate --to-json  print the documents as one JSON array (no validation)
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Doc is one YAML document of the input.
type Doc struct {
	Source string // file name or "stdin"
	Index  int    // 1-based position in its source, counting non-empty documents
	JSON   []byte
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kubevalidate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	toJSON := fs.Bool("to-json", false, "print the documents as a JSON array instead of validating them")
	quiet := fs.Bool("quiet", false, "print nothing on success")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	sources := fs.Args()
	if len(sources) == 0 {
		sources = []string{"-"}
	}

	var docs []Doc
	for _, src := range sources {
		var r io.Reader
		name := src
		if src == "-" {
			r, name = stdin, "stdin"
		} else {
			f, err := os.Open(src)
			if err != nil {
				fmt.Fprintf(stderr, "kubevalidate: %v\n", err)
				return 2
			}
			defer f.Close()
			r = f
		}
		d, err := readDocs(name, r)
		if err != nil {
			fmt.Fprintf(stderr, "kubevalidate: FAIL %v\n", err)
			return 1
		}
		docs = append(docs, d...)
	}

	if *toJSON {
		var buf bytes.Buffer
		buf.WriteString("[")
		for i, d := range docs {
			if i > 0 {
				buf.WriteString(",\n")
			}
			buf.Write(d.JSON)
		}
		buf.WriteString("]\n")
		if _, err := stdout.Write(buf.Bytes()); err != nil {
			return 2
		}
		return 0
	}

	if len(docs) == 0 {
		fmt.Fprintln(stderr, "kubevalidate: FAIL no documents in the input")
		return 1
	}
	problems := Validate(docs)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stderr, "kubevalidate: FAIL %s\n", p)
		}
		fmt.Fprintf(stderr, "kubevalidate: %d problem(s) in %d document(s)\n", len(problems), len(docs))
		return 1
	}
	if !*quiet {
		fmt.Fprintf(stdout, "kubevalidate: %d document(s) valid (%s)\n", len(docs), kindSummary(docs))
	}
	return 0
}

// readDocs splits a YAML stream into documents and converts each to JSON,
// rejecting duplicate keys. Empty documents (only comments) are skipped.
func readDocs(name string, r io.Reader) ([]Doc, error) {
	reader := k8syaml.NewYAMLReader(bufio.NewReader(r))
	var docs []Doc
	raw := 0
	for {
		chunk, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: reading YAML: %v", name, err)
		}
		raw++
		js, err := yaml.YAMLToJSONStrict(chunk)
		if err != nil {
			return nil, fmt.Errorf("%s document %d: not valid YAML: %v", name, raw, err)
		}
		trimmed := bytes.TrimSpace(js)
		if len(trimmed) == 0 || string(trimmed) == "null" {
			continue
		}
		if trimmed[0] != '{' {
			return nil, fmt.Errorf("%s document %d: a manifest must be a mapping, got %s", name, raw, shorten(string(trimmed)))
		}
		docs = append(docs, Doc{Source: name, Index: len(docs) + 1, JSON: trimmed})
	}
	return docs, nil
}

func kindSummary(docs []Doc) string {
	counts := map[string]int{}
	var order []string
	for _, d := range docs {
		var tm struct {
			Kind string `json:"kind"`
		}
		_ = json.Unmarshal(d.JSON, &tm)
		if counts[tm.Kind] == 0 {
			order = append(order, tm.Kind)
		}
		counts[tm.Kind]++
	}
	parts := make([]string, 0, len(order))
	for _, k := range order {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	return strings.Join(parts, ", ")
}

func shorten(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
