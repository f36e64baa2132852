#include "image.h"

#include <string.h>

void image_move(const float *src, float *dst, int h, int w, int c, int dx,
                int dy, bool flip)
{
    size_t px = sizeof(float) * (size_t)c;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int sy = y - dy, sx = x - dx;
            float *to = dst + ((size_t)y * w + x) * c;
            if (sy < 0 || sy >= h || sx < 0 || sx >= w) {
                memset(to, 0, px);
                continue;
            }
            if (flip)
                sx = w - 1 - sx;
            memcpy(to, src + ((size_t)sy * w + sx) * c, px);
        }
}
