package dockerfile

import (
	"reflect"
	"strings"
	"testing"
)

func TestFrom(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"one", "FROM centos:7\nRUN true\n", []string{"centos:7"}},
		{"lowercase and tabs", "from\tns/app\n", []string{"ns/app"}},
		{"platform and stage", "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nFROM alpine\nCOPY --from=build /x /x\n", []string{"golang:1.22", "alpine"}},
		{"stage reference", "FROM centos:7 AS base\nFROM base\nFROM Base AS two\nFROM two\n", []string{"centos:7"}},
		{"scratch", "FROM scratch\n", nil},
		{"arg default", "ARG BASE=centos\nARG TAG=7\nFROM ${BASE}:$TAG\n", []string{"centos:7"}},
		{"arg fallback", "ARG TAG\nFROM centos:${TAG:-8}\n", []string{"centos:8"}},
		{"unresolved", "FROM $UNKNOWN\n", nil},
		{"stage arg ignored", "FROM a:1\nARG X=b\nFROM $X\n", []string{"a:1"}},
		{"continuation", "FROM \\\n  # a comment\n  registry.example:5000/ns/n:1 \\\n  AS x\n", []string{"registry.example:5000/ns/n:1"}},
		{"escape directive", "# escape=`\nFROM `\n  ns/n:2\n", []string{"ns/n:2"}},
		{"duplicates", "FROM a\nFROM a\n", []string{"a"}},
		{"comments", "# hello\n\nFROM a # not a comment in docker either\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := From(strings.NewReader(tt.src))
			if tt.name == "comments" {
				if err == nil {
					t.Fatalf("From = %v, want an error for a FROM with trailing words", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("From = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFromErrorNamesLine(t *testing.T) {
	_, err := From(strings.NewReader("RUN x\nFROM\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v, want one naming line 2", err)
	}
}
