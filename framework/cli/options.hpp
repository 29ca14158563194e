#pragma once
// How every gosok command reads its command line.

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace gosok::cli {

/// Parses `args` against `desc`: a long option needs its full name (no prefix guessing:
/// `--gpus` never becomes `--gpus-per-node`, nor `--output` `--output-dir`), and a word that
/// is not an option is an error naming it, unless `positional` takes it. Refusals are
/// InputErrors (exit code 2).
boost::program_options::variables_map parse_options(
    const std::vector<std::string>& args, const boost::program_options::options_description& desc,
    const boost::program_options::positional_options_description* positional = nullptr);

}  // namespace gosok::cli
