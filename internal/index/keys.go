package index

import (
	"fmt"
	"strings"
)

// The keys of an index entry.
const (
	keyID              = "id"
	keyAppID           = "app-id"
	keyJobID           = "job-id"
	keyGitURL          = "git-url"
	keyGitBranch       = "git-branch"
	keyGitPath         = "git-path"
	keyTargetFile      = "target-file"
	keyDesiredTag      = "desired-tag"
	keyNotifyEmail     = "notify-email"
	keyBuildContext    = "build-context"
	keyDependsOn       = "depends-on"
	keyPrebuildScript  = "prebuild-script"
	keyPrebuildContext = "prebuild-context"

	// Hoist's own keys.
	keyNotifySuccess = "notify-success"
	keySchedule      = "schedule"
)

// entryKeys lists the keys of an entry in the order upstream documents them.
var entryKeys = []string{
	keyID, keyAppID, keyJobID, keyGitURL, keyGitBranch, keyGitPath, keyTargetFile,
	keyDesiredTag, keyNotifyEmail, keyBuildContext, keyDependsOn,
	keyPrebuildScript, keyPrebuildContext,
	keyNotifySuccess, keySchedule,
}

// requiredHints says, for each required key, what to write.
var requiredHints = map[string]string{
	keyID:         `add "id: <number>", unique in this file`,
	keyJobID:      `add "job-id: <image name>"`,
	keyGitURL:     `add "git-url: <repository>", e.g. https://github.com/user/repo`,
	keyGitPath:    `add "git-path: <folder of the target file in the repository>"; "/" is the root`,
	keyTargetFile: `add "target-file: <file to build, relative to git-path>", usually Dockerfile`,
}

// suggest returns the known key that the unknown key k most likely meant,
// or "" if none is close: the same key with "_" or " " for "-" or in other
// case, a key at most two edits away, or the one key that ends in "-"+k.
func suggest(k string, known []string) string {
	norm := strings.ToLower(strings.NewReplacer("_", "-", " ", "-").Replace(k))
	best, bestDist := "", 3
	var suffix []string
	for _, c := range known {
		if norm == strings.ToLower(c) {
			return c
		}
		if d := editDistance(norm, strings.ToLower(c)); d < bestDist && len(norm) > 2 {
			best, bestDist = c, d
		}
		if norm != "" && strings.HasSuffix(c, "-"+norm) {
			suffix = append(suffix, c)
		}
	}
	if best == "" && len(suffix) == 1 {
		best = suffix[0]
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes. It
// gives up (returns a large number) on long strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// unknownKeyMessage explains an unknown entry key; value is what the key
// it probably meant is set to (its default if the entry does not set it).
func unknownKeyMessage(k string, value func(string) string) string {
	if s := suggest(k, entryKeys); s != "" {
		return fmt.Sprintf("unknown key %q; did you mean %q? It is ignored (upstream ignored it too), so %s is %s",
			k, s, s, value(s))
	}
	return fmt.Sprintf("unknown key %q is ignored; the keys of an entry are %s", k, strings.Join(entryKeys, ", "))
}
