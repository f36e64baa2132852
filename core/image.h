/* image: moves of an image row, for training on shifted and mirrored
 * copies of the labeled samples (aral_training's shift and flip). */
#ifndef ARAL_IMAGE_H
#define ARAL_IMAGE_H

#include <stdbool.h>

/* dst = src (h x w x c floats, channels last) mirrored left-right when
 * flip, then moved dx pixels right and dy down; pixels moved in from
 * outside are 0. src and dst must not overlap. */
void image_move(const float *src, float *dst, int h, int w, int c, int dx,
                int dy, bool flip);

#endif
