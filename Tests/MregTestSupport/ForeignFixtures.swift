import Foundation

/// A LightGBM text model written by hand: a <= 0.25 scores -0.5, else category b in {1} scores 0.75, else 1.5.
public let handLightGBM = """
    tree
    version=v4
    num_class=1
    num_tree_per_iteration=1
    label_index=0
    max_feature_idx=1
    objective=regression
    feature_names=a b
    feature_infos=[-1:1] 0:1:2
    tree_sizes=100

    Tree=0
    num_leaves=3
    num_cat=1
    split_feature=0 1
    threshold=0.25 0
    decision_type=10 1
    left_child=-1 -2
    right_child=1 -3
    leaf_value=-0.5 0.75 1.5
    cat_boundaries=0 1
    cat_threshold=2
    is_linear=0
    shrinkage=1

    end of trees

    pandas_categorical:null

    """

/// An XGBoost JSON model written by hand: one tree, feature a <= 0.5 (missing goes left) scores -1, else 1.
public let handXGBoost = """
    {"version": [3, 2, 0], "learner": {"feature_names": ["a", "b"], "feature_types": ["q", "q"],
     "learner_model_param": {"base_score": "[5E-1]", "num_class": "0", "num_feature": "2", "num_target": "1", "boost_from_average": "1"},
     "objective": {"name": "binary:logistic"},
     "gradient_booster": {"name": "gbtree", "model": {
       "gbtree_model_param": {"num_trees": "1", "num_parallel_tree": "1"}, "tree_info": [0],
       "trees": [{"id": 0, "left_children": [1, -1, -1], "right_children": [2, -1, -1], "split_indices": [0, 0, 0],
                  "split_conditions": [0.5, -1, 1], "default_left": [1, 0, 0], "split_type": [0, 0, 0],
                  "tree_param": {"num_nodes": "3", "num_feature": "2", "size_leaf_vector": "1"},
                  "categories_nodes": [], "categories_segments": [], "categories_sizes": [], "categories": []}]}}}}
    """
