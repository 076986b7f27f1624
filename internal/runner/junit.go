package runner

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/hoistci/hoist/internal/pipeline"
)

// The JUnit XML schema CI systems read (Jenkins, GitLab, GitHub actions).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name       string         `xml:"name,attr"`
	Classname  string         `xml:"classname,attr"`
	Time       string         `xml:"time,attr"`
	File       string         `xml:"file,attr,omitempty"`
	Properties *junitProps    `xml:"properties,omitempty"`
	Failure    *junitFailure  `xml:"failure,omitempty"`
	Skipped    *junitSkipped  `xml:"skipped,omitempty"`
	SystemOut  *junitCharData `xml:"system-out,omitempty"`
}

type junitProps struct {
	Props []junitProp `xml:"property"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitCharData struct {
	Text string `xml:",chardata"`
}

// junit renders results as a JUnit XML report, one test suite per group.
// A blocking failure is a <failure>; an advisory one (a warning) passes
// with its status and detail in properties and system-out, so CI systems
// show it without failing; n/a is <skipped> with the reason.
func junit(project string, number int, results []pipeline.CheckResult) ([]byte, error) {
	out := junitSuites{Name: fmt.Sprintf("%s build #%d", project, number)}
	index := map[string]int{}
	var total float64
	var times []float64 // per suite
	for _, r := range results {
		i, ok := index[r.Group]
		if !ok {
			i = len(out.Suites)
			index[r.Group] = i
			out.Suites = append(out.Suites, junitSuite{Name: r.Group})
			times = append(times, 0)
		}
		s := &out.Suites[i]
		secs := r.Duration.Seconds()
		total += secs
		times[i] += secs
		c := junitCase{Name: r.ID, Classname: project + "." + r.Group, Time: fmt.Sprintf("%.3f", secs), File: r.Location,
			Properties: &junitProps{Props: []junitProp{{"status", string(r.Status)}, {"blocking", fmt.Sprint(r.Blocking)}}}}
		if r.Description != "" {
			c.Properties.Props = append(c.Properties.Props, junitProp{"description", r.Description})
		}
		switch {
		case r.Status == pipeline.CheckFail && r.Blocking:
			c.Failure = &junitFailure{Message: firstLine(r.Detail), Type: r.Group, Text: r.Detail}
			s.Failures++
			out.Failures++
		case r.Status == pipeline.CheckNA:
			c.Skipped = &junitSkipped{Message: r.Detail}
			s.Skipped++
			out.Skipped++
		}
		text := r.Output
		if r.Status == pipeline.CheckWarn || (r.Status == pipeline.CheckFail && !r.Blocking) {
			text = strings.ToUpper(string(r.Status)) + " (advisory): " + r.Detail + "\n" + text
		}
		if text != "" {
			c.SystemOut = &junitCharData{Text: text}
		}
		s.Cases = append(s.Cases, c)
		s.Tests++
		out.Tests++
	}
	for i := range out.Suites {
		out.Suites[i].Time = fmt.Sprintf("%.3f", times[i])
	}
	out.Time = fmt.Sprintf("%.3f", total)
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}
