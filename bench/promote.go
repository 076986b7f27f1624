package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// makeImage builds repo:v1 FROM scratch with one file of mb MiB from
// /dev/urandom (random, so that gzip cannot shrink it), pushes it once and
// returns its digest in the registry.
func (e *env) makeImage(ctx context.Context, repo string, mb int) (string, error) {
	dir, err := os.MkdirTemp(e.tmp, "image-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY blob /blob\nCMD [\"/blob\"]\n"), 0o644); err != nil {
		return "", err
	}
	if err := randomFile(filepath.Join(dir, "blob"), int64(mb)<<20); err != nil {
		return "", err
	}
	build := exec.CommandContext(ctx, "docker", "build", "--force-rm", "-t", repo+":v1", dir)
	build.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if _, err := e.timed(ctx, build); err != nil {
		return "", err
	}
	if _, err := e.run(ctx, "docker", "push", repo+":v1"); err != nil {
		return "", err
	}
	return e.client.Digest(ctx, repo+":v1")
}

func randomFile(path string, size int64) error {
	src, err := os.Open("/dev/urandom")
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(dst, src, size); err != nil {
		dst.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return dst.Close()
}

// dropLocal removes the engine's copy of ref (every name of its image, all
// of them ours) so that the next pull really downloads it.
func (e *env) dropLocal(ctx context.Context, ref string) error {
	id, err := e.output(ctx, "docker", "image", "inspect", "-f", "{{.Id}}", ref)
	if err != nil {
		return nil // not here
	}
	tags, err := e.output(ctx, "docker", "image", "inspect", "-f", "{{range .RepoTags}}{{println .}}{{end}}", ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	hosts := append([]string(nil), e.hosts...)
	e.mu.Unlock()
	if !allOurs(lines(tags), hosts) {
		return fmt.Errorf("image %s is also tagged %q, not by this benchmark: not removing it", ref, lines(tags))
	}
	if _, err := e.output(ctx, "docker", "rmi", "-f", strings.TrimSpace(id)); err != nil {
		return err
	}
	if _, err := e.output(ctx, "docker", "image", "inspect", ref); err == nil {
		return fmt.Errorf("%s is still in the engine after docker rmi", ref)
	}
	return nil
}

// dockerPromote is what a docker-only user does to promote src (a digest
// reference) to dst: pull, tag, push. It returns the whole time and the
// pull's part.
func (e *env) dockerPromote(ctx context.Context, src, dst string) (total, pull time.Duration, err error) {
	if err := e.dropLocal(ctx, src); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	if pull, err = e.run(ctx, "docker", "pull", src); err != nil {
		return 0, 0, err
	}
	if _, err = e.run(ctx, "docker", "tag", src, dst); err != nil {
		return 0, 0, err
	}
	if _, err = e.run(ctx, "docker", "push", dst); err != nil {
		return 0, 0, err
	}
	return time.Since(start), pull, nil
}

// hoistTag times Hoist's registry client promoting src to dst.
func (e *env) hoistTag(ctx context.Context, src, dst string) (time.Duration, error) {
	start := time.Now()
	if _, err := e.client.Tag(ctx, src, dst); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// benchPromotion is (b): promotion cost against image size, and against the
// docker CLI's pull, tag, push.
func benchPromotion(ctx context.Context, e *env, rep *report, reg string, bigMB, smallMB, rounds, tagsPerRound int) error {
	big, small := reg+"/bench/big", reg+"/bench/small"
	progress("(b) making and pushing a %d MiB and a %d MiB image of random bytes (untimed)", bigMB, smallMB)
	bigD, err := e.makeImage(ctx, big, bigMB)
	if err != nil {
		return err
	}
	smallD, err := e.makeImage(ctx, small, smallMB)
	if err != nil {
		return err
	}
	bigRef, smallRef := big+"@"+bigD, small+"@"+smallD

	// (b1), (b2): registry-side tags, interleaved, after one untimed each.
	for _, r := range []string{bigRef, smallRef} {
		if _, err := e.hoistTag(ctx, r, strings.Split(r, "@")[0]+":rc-warm"); err != nil {
			return err
		}
	}
	var b1, b2 []time.Duration
	for i := range rounds {
		for k := range tagsPerRound {
			tag := fmt.Sprintf(":rc-%d-%d", i+1, k+1)
			order := []string{bigRef, smallRef}
			if (i*tagsPerRound+k)%2 == 1 {
				order = []string{smallRef, bigRef}
			}
			for _, r := range order {
				d, err := e.hoistTag(ctx, r, strings.Split(r, "@")[0]+tag)
				if err != nil {
					return err
				}
				if r == bigRef {
					b1 = append(b1, d)
				} else {
					b2 = append(b2, d)
				}
			}
		}
		progress("(b) round %d/%d: registry-side tag %d MiB %s, %d MiB %s (medians so far)", i+1, rounds, bigMB, fmtDur(median(b1)), smallMB, fmtDur(median(b2)))
	}

	// (b3), (b4), (b5): the docker CLI's way, and Hoist copying to another
	// registry. The other registries are new each round, so that their
	// layers really move.
	var b3, b3pull, b4, b4pull, b5 []time.Duration
	for i := range rounds {
		steps := []func() error{
			func() error { // (b3) same repository: docker skips the layers on push
				d, p, err := e.dockerPromote(ctx, bigRef, fmt.Sprintf("%s:docker-rc-%d", big, i+1))
				b3, b3pull = append(b3, d), append(b3pull, p)
				return err
			},
			func() error { // (b4) a fresh registry: the layers are uploaded
				other, err := e.startRegistry(ctx, "docker")
				if err != nil {
					return err
				}
				defer e.stopRegistry(other)
				d, p, err := e.dockerPromote(ctx, bigRef, fmt.Sprintf("%s/bench/big:rc-%d", other.addr, i+1))
				b4, b4pull = append(b4, d), append(b4pull, p)
				return err
			},
			func() error { // (b5) Hoist's client to a fresh registry
				other, err := e.startRegistry(ctx, "hoist")
				if err != nil {
					return err
				}
				defer e.stopRegistry(other)
				d, err := e.hoistTag(ctx, bigRef, fmt.Sprintf("%s/bench/big:rc-%d", other.addr, i+1))
				b5 = append(b5, d)
				return err
			},
		}
		if i%2 == 1 {
			steps[0], steps[2] = steps[2], steps[0]
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		progress("(b) round %d/%d: docker same repo %s, docker other registry %s, hoist other registry %s", i+1, rounds, fmtDur(b3[i]), fmtDur(b4[i]), fmtDur(b5[i]))
	}
	if err := e.dropLocal(ctx, bigRef); err != nil {
		return err
	}

	bigL, smallL := fmt.Sprintf("%d MiB", bigMB), fmt.Sprintf("%d MiB", smallMB)
	rep.rows = append(rep.rows,
		row{name: "(b1) deliver " + bigL + " image, registry-side tag", hoist: b1},
		row{name: "(b2) deliver " + smallL + " image, registry-side tag", hoist: b2,
			ratio: ratio(fmt.Sprintf("b1/b2 (%s/%s)", bigL, smallL), b1, b2)},
		row{name: "(b3) " + bigL + ", same repo; docker pull+tag+push", hoist: b1, baseline: b3,
			ratio: ratio("hoist(b1)/docker", b1, b3)},
		row{name: "(b4) " + bigL + ", other registry; docker pull+tag+push", hoist: b1, baseline: b4,
			ratio: ratio("hoist(b1)/docker", b1, b4)},
		row{name: "(b5) " + bigL + ", copy to other registry", hoist: b5, baseline: b4,
			ratio: ratio("hoist/docker(b4)", b5, b4)},
	)
	rep.how = append(rep.how,
		fmt.Sprintf("(b1)(b2) internal/registry Client.Tag(REG/bench/X@digest, REG/bench/X:rc-N) (GET + manifest PUT + HEAD, no blob moves), "+
			"a new tag each time, %d per round and size, sizes interleaved, after one untimed tag each; images are FROM scratch + %d MiB / %d MiB of /dev/urandom, pushed once untimed. "+
			"b1: %s; b2: %s", tagsPerRound, bigMB, smallMB, samples(b1), samples(b2)),
		fmt.Sprintf("(b3) docker rmi of every local name of the image (untimed), then docker pull REG/bench/big@digest + docker tag + docker push REG/bench/big:docker-rc-N "+
			"(same repository: docker finds the layers there and skips them). docker: %s (of which pull: %s)", samples(b3), samples(b3pull)),
		fmt.Sprintf("(b4) the same, but docker push to a second docker-registry started fresh for each round (untimed), so the %d MiB layer is compressed and uploaded again. "+
			"docker: %s (of which pull: %s)", bigMB, samples(b4), samples(b4pull)),
		fmt.Sprintf("(b5) what Hoist does when the destination is another registry: Client.Tag(REG/bench/big@digest, OTHER/bench/big:rc-N), OTHER a fresh docker-registry each round; "+
			"the compressed blobs stream registry to registry, no engine, no recompression. hoist: %s; docker: (b4)", samples(b5)),
	)
	return nil
}
