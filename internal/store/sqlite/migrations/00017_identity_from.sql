-- The FROM images a build's checkout named, recorded with its identity: a
-- later build of the same commit knows its parents without a checkout.
-- NULL: not recorded (a build from before this column).

-- +goose Up
ALTER TABLE build_identity ADD COLUMN from_images TEXT;

-- +goose Down
ALTER TABLE build_identity DROP COLUMN from_images;
