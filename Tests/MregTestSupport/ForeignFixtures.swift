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
