// gosok validate: checks input, site, grants and job template files without running
// anything. It runs on a login node: the workloads' schemas are the Kokkos-free input
// declarations that `gosok run` uses too.
#include <filesystem>
#include <fstream>
#include <iostream>

#include <gosok/core/error.hpp>
#include <gosok/workload/input.hpp>
#include "commands.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace gosok {

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot be read");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const FileKind& kind_of(const std::string& file) {
  const std::string ext = std::filesystem::path(file).extension().string();
  for (const auto& k : file_kinds()) {
    for (const auto& e : k.extensions)
      if (e == ext) return k;
  }
  if (ext != ".toml") {
    const std::string text = read_all(file);
    for (const auto& k : file_kinds()) {
      if (k.looks_like && k.looks_like(text)) return k;
    }
  }
  std::string kinds;
  for (const auto& k : file_kinds()) {
    if (!k.toml_key.empty() && file_has_top_level_key(file, k.toml_key)) return k;  // malformed TOML throws here
    std::string how;
    for (const auto& e : k.extensions) how += (how.empty() ? "" : " or ") + ("*" + e);
    if (!k.toml_key.empty()) how = "TOML with top-level '" + k.toml_key + "'";
    kinds += "\n  " + k.description + " (" + how + ")";
  }
  throw InputError(file + ": cannot tell what kind of file this is; gosok validate knows:" + kinds);
}

}  // namespace

void register_validate_command(CommandRegistry& commands) {
  add_file_kind({"workload input (workload = \"<name>\")", {}, nullptr, "workload", [](const std::string& path) {
                   WorkloadInputs inputs;
                   register_builtin_workload_inputs(inputs);
                   resolve_workload_input(inputs.find(read_toml_string_key(path, "workload")), path, {});
                 }});
  commands.add({"validate", "check an input, site, grants or job template file without running anything",
                [](const std::vector<std::string>& args, int&, char**) {
                  std::vector<std::string> files;
                  bool help = false;
                  po::options_description desc("usage: gosok validate FILE...");
                  desc.add_options()("help,h", po::bool_switch(&help), "show this help")("file", po::value(&files),
                                                                                         "files to check");
                  po::positional_options_description pos;
                  pos.add("file", -1);
                  cli::parse_options(args, desc, &pos);
                  if (help || files.empty()) {
                    std::cout << "usage: gosok validate FILE...\nknown kinds of file:\n";
                    for (const auto& k : file_kinds()) std::cout << "  " << k.description << "\n";
                    return help ? 0 : 2;
                  }
                  for (const auto& file : files) {
                    if (!std::filesystem::is_regular_file(file)) throw InputError(file + ": no such file");
                    const FileKind& kind = kind_of(file);
                    kind.validate(file);
                    std::cout << file << ": ok (" << kind.description << ")\n";
                  }
                  return 0;
                }});
}

}  // namespace gosok
