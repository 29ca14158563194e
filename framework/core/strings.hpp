#pragma once

#include <string>

namespace gosok {

/// `text` without leading and trailing blanks (spaces, tabs, carriage returns, newlines).
std::string trim(const std::string& text);

}  // namespace gosok
