// Package storetest is the conformance suite every pipeline.Store backend
// runs (SQLite and PostgreSQL), in the manner of distribution's
// storage driver testsuites: a backend's test calls Run with a function that
// opens a new, empty store, and gets one subtest per behaviour the rest of
// Hoist relies on.
//
// Besides the contracts written on pipeline's store interfaces, the suite
// holds backends to these:
//   - times come back equal to nanosecond precision and in UTC, and the zero
//     time stays zero;
//   - a missing project or build is an error wrapping pipeline.ErrNotFound,
//     also from UpdateBuild, PutStage and AppendLog;
//   - CreateBuild numbers are distinct and consecutive per project under
//     concurrent callers;
//   - OpenLog streams the log as it was when opened, from any byte offset;
//   - a credential whose Expires equals now has expired;
//   - Enqueue and CreateBuild share one numbering per project;
//   - Claim, CancelQueued and Active order builds by ID (the order they
//     were created in; Claim takes a build queued again after it lost its
//     runner first), and concurrent claimers get every build exactly once;
//   - FailRunning also fails the running stages of the builds it fails;
//   - a lease expires only after its Until (a lease ending at now holds);
//     ExpireLeases marks the lost attempt's running stages failed with
//     pipeline.LostAttempt, or with pipeline.LostRunner at the limit.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hoistci/hoist/internal/pipeline"
)

// Run runs the suite. open must return a new, empty store for each call;
// Run closes it when the subtest ends (Close may then be called twice).
func Run(t *testing.T, open func(t *testing.T) pipeline.Store) {
	tests := []struct {
		name string
		f    func(t *testing.T, s pipeline.Store)
	}{
		{"Project/RoundTrip", testProjectRoundTrip},
		{"Project/Replace", testProjectReplace},
		{"Project/ListOrder", testProjectList},
		{"Project/NotFound", testProjectNotFound},
		{"Project/Delete", testProjectDelete},
		{"Project/Trust", testProjectTrust},
		{"Build/Numbering", testBuildNumbering},
		{"Build/ConcurrentCreate", testBuildConcurrent},
		{"Build/RoundTrip", testBuildRoundTrip},
		{"Build/Update", testBuildUpdate},
		{"Build/AnyBytes", testBuildAnyBytes},
		{"Build/NotFound", testBuildNotFound},
		{"Build/ListNewestFirst", testBuildList},
		{"Build/LastBuilds", testLastBuilds},
		{"Build/LastBuildsKeys", testLastBuildsKeys},
		{"Build/Number", testBuildNumber},
		{"Build/Before", testBuildsBefore},
		{"Build/BeforePaging", testBuildsBeforePaging},
		{"Stage/PutReplaceOrder", testStages},
		{"Stage/MissingBuild", testStageMissingBuild},
		{"Log/AppendRead", testLogAppendRead},
		{"Log/Offset", testLogOffset},
		{"Log/Empty", testLogEmpty},
		{"Log/Snapshot", testLogSnapshot},
		{"Log/MissingBuild", testLogMissingBuild},
		{"Log/Large", testLogLarge},
		{"Log/Marks", testLogMarks},
		{"Image/RecordReplaceList", testImages},
		{"User/CreateFind", testUsers},
		{"User/Exists", testUserExists},
		{"Credential/PutGetExpireDelete", testCredentials},
		{"Credential/UnknownUser", testCredentialUnknownUser},
		{"User/TokensDelete", testTokensDeleteUser},
		{"Queue/EnqueueJoins", testEnqueueJoins},
		{"Queue/Numbering", testEnqueueNumbering},
		{"Queue/ClaimOrder", testClaimOrder},
		{"Queue/ClaimSkipsRunning", testClaimSkipsRunning},
		{"Queue/ConcurrentClaim", testClaimConcurrent},
		{"Queue/CancelQueued", testCancelQueued},
		{"Queue/Active", testActive},
		{"Queue/FailRunning", testFailRunning},
		{"Queue/EnqueueCommitDedupe", testEnqueueCommitDedupe},
		{"Queue/EnqueueCommitForcedBack", testEnqueueCommitForcedBack},
		{"Queue/EnqueueCommitAfterStartFailure", testEnqueueCommitAfterStartFailure},
		{"Queue/EnqueueCommitReplay", testEnqueueCommitReplay},
		{"Graph/FromImages", testFromImages},
		{"Graph/Identity", testIdentity},
		{"Graph/LastDelivered", testLastDelivered},
		{"Graph/Pins", testPins},
		{"Queue/ClaimIDSkipQueued", testClaimIDSkipQueued},
		{"Close", testClose},
	}
	tests = append(tests, checksTests...)
	tests = append(tests, namespaceTests...)
	tests = append(tests, concurrentTests...)
	tests = append(tests, leaseTests...)
	tests = append(tests, holdTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.f(t, s)
		})
	}
}

// ctx is the context of one subtest.
func ctx(t *testing.T) context.Context { return t.Context() }

// zone is a non-UTC zone: stores must hand times back in UTC.
var zone = time.FixedZone("UTC+2", 2*60*60)

// at is a time with nanoseconds, in zone.
func at(sec, nsec int64) time.Time {
	return time.Unix(1_700_000_000+sec, nsec).In(zone)
}

// diff compares the way the suite wants stored values compared: times by
// instant, nil and empty slices alike.
func diff(want, got any) string {
	return cmp.Diff(want, got, cmpopts.EquateEmpty())
}

// mustUTC fails unless every time is in UTC.
func mustUTC(t *testing.T, what string, times ...time.Time) {
	t.Helper()
	for _, tm := range times {
		if tm.Location() != time.UTC {
			t.Errorf("%s: time %v is in %v, want UTC", what, tm, tm.Location())
		}
	}
}

// mustNotFound fails unless err wraps pipeline.ErrNotFound.
func mustNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, pipeline.ErrNotFound) {
		t.Errorf("%s: err = %v, want one wrapping pipeline.ErrNotFound", what, err)
	}
}

// must fails the test now when err is not nil.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func testClose(t *testing.T, s pipeline.Store) {
	must(t, "PutProject", s.PutProject(ctx(t), project("a", "one")))
	must(t, "Close", s.Close())
	if _, err := s.Projects(ctx(t)); err == nil {
		t.Errorf("Projects after Close: no error")
	}
}
