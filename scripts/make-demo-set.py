#!/usr/bin/env python3
"""Builds datasets/xray-demo, the small X-ray set committed for `make demo` and the end-to-end
tests, from ../shared/datasets/xray: only rows whose license allows redistribution (CC-BY or
Apache-2.0; never "unspecified"), downscaled with Pillow (LANCZOS) so that the longer side is at
most --max-side, the attribution columns kept and an attribution added.

usage: /usr/bin/python3 scripts/make-demo-set.py [--src ../shared/datasets/xray]
                                                  [--out datasets/xray-demo]
                                                  [--per-category 50] [--max-side 320]
"""
import argparse
import csv
import os
import shutil

from PIL import Image

ATTRIBUTION = {
    "ml-workgroup/covid-19-image-repository":
        "Hannover Medical School, COVID-19 image repository (DOI 10.6084/m9.figshare.12275009), "
        "CC BY 3.0; downscaled",
    "devichand579/Instance_seg_teeth":
        "devichand579/Instance_seg_teeth (UFBA-425, from the UFBA-UESC Dental Images set), "
        "Apache-2.0; downscaled",
}


def allowed(license_text):
    return license_text.startswith("CC-BY") or license_text.startswith("Apache-2.0")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default="../shared/datasets/xray")
    ap.add_argument("--out", default="datasets/xray-demo")
    ap.add_argument("--per-category", type=int, default=50)
    ap.add_argument("--max-side", type=int, default=320)
    args = ap.parse_args()

    with open(os.path.join(args.src, "metadata.csv"), newline="") as f:
        rows = [r for r in csv.DictReader(f) if allowed(r["license"])]
    rows.sort(key=lambda r: (r["category"], r["image_name"]))
    chosen, count = [], {}
    for r in rows:
        if count.get(r["category"], 0) < args.per_category:
            count[r["category"]] = count.get(r["category"], 0) + 1
            chosen.append(r)

    shutil.rmtree(os.path.join(args.out, "raw"), ignore_errors=True)
    fields = ["image_name", "source_url", "category", "license", "source_repo", "source_path",
              "attribution"]
    with open(os.path.join(args.out, "metadata.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in chosen:
            src = os.path.join(args.src, "raw", r["category"], r["image_name"])
            dst_dir = os.path.join(args.out, "raw", r["category"])
            os.makedirs(dst_dir, exist_ok=True)
            img = Image.open(src)
            img.load()
            scale = min(1.0, args.max_side / max(img.size))
            if scale < 1.0:
                size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
                img = img.resize(size, Image.LANCZOS)
            dst = os.path.join(dst_dir, r["image_name"])
            if r["image_name"].lower().endswith((".jpg", ".jpeg")):
                img.save(dst, quality=90)
            else:
                img.save(dst, optimize=True)
            out = {k: r[k] for k in fields if k != "attribution"}
            out["attribution"] = ATTRIBUTION.get(r["source_repo"], r["source_repo"] + "; downscaled")
            w.writerow(out)
    print("wrote", len(chosen), "images:", count)


if __name__ == "__main__":
    main()
