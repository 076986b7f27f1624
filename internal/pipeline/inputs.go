package pipeline

// BuildInputs are what a build is made from beyond its project and its
// checkout, as its scheduler read them from the store when the build
// started: the runner reads no table whole for them. A scheduler fills
// them for each build (sched.ReadInputs); the runner only reads them, and
// may share their maps with other builds.
type BuildInputs struct {
	// Projects and From are the image graph the build's checkout is
	// checked against for a cycle: every project, and the FROM images each
	// recorded at its last checkout, by project key.
	Projects []Project
	From     map[string][]ImageRef
	// Delivered are the images Hoist delivered, by reference in its
	// registry (DeliveredImage.Image: host/ns/name:tag): the parents'
	// digests the build's identity and its FROM pins come from, and an
	// earlier attempt's delivery of this build.
	Delivered map[string]DeliveredImage
	// Force builds even when a build with the same inputs was delivered
	// (hoist run --force, a forced trigger: GraphStore.Forced).
	Force bool
	// Pin is the commit the build checks out instead of its branch's
	// head (BuildPins.PinnedCommit); "" for the head.
	Pin string
	// Last is the project's last delivery (GraphStore.LastDelivered), from
	// which a build whose branch is still at its commit knows its identity
	// without a checkout; nil when there is none.
	Last *Delivered
}

// DeliveredByImage indexes images (as ImageStore.Images lists them, newest
// first) by reference, the newest of each.
func DeliveredByImage(images []DeliveredImage) map[string]DeliveredImage {
	out := make(map[string]DeliveredImage, len(images))
	for _, img := range images {
		if _, ok := out[img.Image]; !ok {
			out[img.Image] = img
		}
	}
	return out
}
