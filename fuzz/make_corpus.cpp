// Writes the seed corpora of the fuzz targets: small models of every kind saved in every archive
// format (see fuzz_models.hpp for the input layout), hand-written CSV and COO texts, and a few
// generated Santander rows with the file's quirks. Deterministic.
//
//   make_corpus OUT_DIR        -> OUT_DIR/<target>/<name>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "fuzz_models.hpp"

namespace fs = std::filesystem;
using namespace recmix;

namespace {

void write(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}

template <class Model>
void model_seeds(const fs::path& dir, const std::string& stem, const Model& model, unsigned index) {
  const std::vector<std::string> seeds = fuzz::seeds_for(model, index);
  const char* suffix[] = {"binary", "text", "xml", "file"};
  for (std::size_t i = 0; i < seeds.size(); ++i) write(dir, stem + "-" + suffix[i], seeds[i]);
}

std::string sel(unsigned selector, const std::string& text) { return std::string(1, static_cast<char>(selector)) + text; }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_corpus OUT_DIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  try {
    model_seeds(out / "fuzz_model_als", "als-float", fuzz::fixture_als_float(), 0);
    model_seeds(out / "fuzz_model_als", "als-double", fuzz::fixture_als_double(), 1);
    model_seeds(out / "fuzz_model_kmeans", "kmeans-float", fuzz::fixture_kmeans<float>(), 0);
    model_seeds(out / "fuzz_model_kmeans", "kmeans-double", fuzz::fixture_kmeans<double>(), 1);
    model_seeds(out / "fuzz_model_kmeans", "cluster-recommender", fuzz::fixture_cluster_recommender(), 2);
    model_seeds(out / "fuzz_model_preprocessing", "scaler", fuzz::fixture_scaler(), 0);
    model_seeds(out / "fuzz_model_preprocessing", "one-hot", fuzz::fixture_one_hot(), 1);
    model_seeds(out / "fuzz_model_preprocessing", "ordinal", fuzz::fixture_ordinal(), 2);
    model_seeds(out / "fuzz_model_preprocessing", "binner", fuzz::fixture_binner(), 3);
    model_seeds(out / "fuzz_model_preprocessing", "demographic-encoder", fuzz::fixture_demographic_encoder(), 4);
    model_seeds(out / "fuzz_model_gbdt", "gbdt", fuzz::fixture_gbdt(), 0);
    model_seeds(out / "fuzz_model_gbdt", "classifier", fuzz::fixture_classifier(), 1);
    model_seeds(out / "fuzz_model_gbdt", "feature-columns", fuzz::fixture_trees(), 2);
    model_seeds(out / "fuzz_model_blender", "popularity", fuzz::fixture_popularity(), 0);
    model_seeds(out / "fuzz_model_blender", "blender", fuzz::fixture_blender(), 1);

    const fs::path csv = out / "fuzz_csv";
    write(csv, "records", sel(0, "name,city\nAna,\"CORU\xC3\x91" "A, A\"\r\n\"say \"\"hi\"\"\",\n,\n"));
    write(csv, "records-tiny-buffer", sel(4, "a;b;\"c;d\"\n1;2;3\n"));
    write(csv, "dense-header", sel(1, "x,y,z\n1,2.5,-3e2\n0.1,NA,inf\n"));
    write(csv, "dense-nan", sel(5, "x,y\n,nan\n1e-40,-0\n"));
    write(csv, "dense-noheader", sel(2, "1,2\n3,4\n"));
    write(csv, "dense-semicolon", sel(9, "a;b\n1;2\n"));
    write(csv, "coo", sel(3, "% comment\n3 4 5\n0 0 1\n0 3 2.5\n2 1 1\n1 1 1\n2 1 1\n"));

    const fs::path st = out / "fuzz_santander";
    const std::string all = fuzz::fixture_santander_text(6, 9);
    write(st, "generated-lenient", sel(0, all));
    write(st, "generated-strict-small-blocks", sel(3, all));
    // The header and two rows with the quirks the loader must read, written by hand.
    std::istringstream lines(all);
    std::string header;
    std::getline(lines, header);
    write(st, "header-only", sel(1, header + "\n"));
    write(st, "no-header-crlf", sel(2, all.substr(header.size() + 1, 2000) + "\r\n"));
  } catch (const std::exception& e) {
    std::cerr << "make_corpus: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
