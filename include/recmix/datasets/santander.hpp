#pragma once
/// @file
/// The Santander Product Recommendation data, all of it: the schema and panel
/// (santander_schema.hpp), the loader of train_ver2.csv (santander_load.hpp), the generator of
/// files in that format (santander_generate.hpp) and the features models learn from
/// (santander_features.hpp). See docs/santander.md.
///
/// @code
/// namespace sd = recmix::datasets::santander;
/// sd::generate({.customers = 20000, .seed = 7}, "train.csv");   // or Kaggle's train_ver2.csv
/// sd::Dataset data = sd::load("train.csv");
/// std::cout << data.report.summary();
/// @endcode

#include "recmix/datasets/santander_features.hpp"
#include "recmix/datasets/santander_generate.hpp"
#include "recmix/datasets/santander_load.hpp"
#include "recmix/datasets/santander_schema.hpp"
