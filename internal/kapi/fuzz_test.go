package kapi

import (
	"net/url"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FuzzDecodeObject checks that any body decodes to an object or a Status
// error, never a panic, and that what decodes validates without panicking.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{
		`{"apiVersion":"tilt.dev/v1alpha1","kind":"PodLogStream","metadata":{"name":"a"},"spec":{"pod":"p","sinceTime":"2026-11-21T12:00:00Z","onlyContainers":["c"]}}`,
		`{"spec":{"pod":"p","bogus":1}}`,
		`{"spec":{"sinceTime":5}}`,
		`{"metadata":{"name":"a","name":"b"}}`,
		`[]`, `null`, `{"spec":{"pod":7}}`,
	} {
		f.Add([]byte(s), metav1.FieldValidationStrict)
		f.Add([]byte(s), metav1.FieldValidationWarn)
	}
	f.Fuzz(func(t *testing.T, data []byte, mode string) {
		obj, _, err := decodeObject(data, mode)
		if err != nil {
			return
		}
		defaultObject(obj)
		_ = validateObject(obj)
	})
}

// FuzzParseListOptions checks that any query parses or fails with an error.
func FuzzParseListOptions(f *testing.F) {
	for _, s := range []string{
		"limit=2&continue=eyJydiI6MywiYWZ0ZXIiOiJiIn0",
		"watch=true&resourceVersion=3&allowWatchBookmarks=true",
		"watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
		"labelSelector=a%20in%20(x,y)&fieldSelector=metadata.name!=b",
		"resourceVersionMatch=Exact", "timeoutSeconds=x", "continue=%00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		lo, err := parseListOptions(q)
		if err != nil {
			return
		}
		_ = lo.matches(newObject("a", "p", map[string]string{"x": "y"}))
	})
}
